"""Whitelist files for the tests: the shipped sample and small ones written on the spot."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT
from webmail.trust.whitelist import NAMESPACE

SAMPLE = ROOT / "tests" / "data" / "listeblanchemssante.xml"
# In the test stack, reachable through the real Postfix, but left out of the sample.
OUTSIDE_DOMAIN = "hors-espace.test"


def whitelist_xml(*domains: str, generated: str = "2026-12-01T04:00:00+01:00") -> bytes:
    entries = "".join(
        f"<Domaine><Nom>{domain}</Nom><Description>Opérateur fictif</Description>"
        f"<DateMAJ>2026-11-01</DateMAJ></Domaine>"
        for domain in domains
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListeBlanche xmlns="{NAMESPACE}">'
        f"<DateDeGeneration>{generated}</DateDeGeneration>{entries}</ListeBlanche>"
    ).encode()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
