"""Parsing the operator whitelist: the sample, normalisation, and hostile or foreign files."""

from __future__ import annotations

import socket
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.trust.samples import OUTSIDE_DOMAIN, SAMPLE, whitelist_xml, write
from webmail.trust import whitelist
from webmail.trust.whitelist import (
    NAMESPACE,
    WhitelistRefused,
    normalise_domain,
    parse_bytes,
    parse_file,
)

TEST_STACK_AND_DEMO_DOMAINS = [
    "medecin.mssante.test",
    "infirmier.mssante.test",
    "chu-demo.mssante.test",
    "ch-demo.mssante.test",
    "cpts-demo.mssante.test",
    "labo-demo.mssante.test",
    "radiologie-demo.mssante.test",
]


def test_the_sample_parses_with_its_oddities_reported() -> None:
    parsed = parse_file(SAMPLE)
    assert parsed.generated == "2026-11-30T04:00:12+01:00"
    assert len(parsed) == 85
    for domain in TEST_STACK_AND_DEMO_DOMAINS:
        assert domain in parsed
    assert OUTSIDE_DOMAIN not in parsed
    # Two entries no client can use, counted with their place in the file; one duplicate.
    assert parsed.invalid_count == 2
    assert [(bad.position, bad.reason) for bad in parsed.invalid] == [
        (87, "no Nom"),
        (88, "invalid domain 'pas un domaine'"),
    ]
    assert parsed.duplicates == 1
    chu = parsed.domains["chu-demo.mssante.test"]
    assert chu.description == "CHU de démonstration"  # the first entry wins over its duplicate
    assert chu.certificate_dn.startswith("CN=mssante.hopital-demo.test")
    assert chu.support_contact == "support@hopital-operateur.test"
    assert chu.updated == "2026-03-15"


def test_the_sample_domains_are_normalised() -> None:
    parsed = parse_file(SAMPLE)
    # Written "CH-Saint-Etienne.MSSANTE.test." and "clinique-sainte-hélène.mssante.test".
    assert "ch-saint-etienne.mssante.test" in parsed.domains
    assert "xn--clinique-sainte-hlne-61bu.mssante.test" in parsed.domains
    assert "Clinique-Sainte-Hélène.MSSante.test" in parsed
    assert all(name == name.lower() and name.isascii() for name in parsed.domains)


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("medecin.mssante.test", "medecin.mssante.test"),
        ("  Medecin.MSSANTE.Test.  ", "medecin.mssante.test"),
        ("hôpital-privé.mssante.test", "xn--hpital-priv-lbb6k.mssante.test"),
        ("HÔPITAL-PRIVÉ.mssante.test", "xn--hpital-priv-lbb6k.mssante.test"),
        ("xn--hpital-priv-lbb6k.mssante.test", "xn--hpital-priv-lbb6k.mssante.test"),
        ("", None),
        ("localhost", None),  # a single label is no operator domain
        ("pas un domaine", None),
        ("-tiret.mssante.test", None),
        ("a..b.test", None),
        ("x" * 64 + ".test", None),
        ("192.168.1.10", None),
        ("medecin.mssante.test/chemin", None),
    ],
)
def test_domain_normalisation(written: str, normalised: str | None) -> None:
    assert normalise_domain(written) == normalised


def test_a_subdomain_is_not_its_parent() -> None:
    parsed = parse_bytes(whitelist_xml("chu-demo.mssante.test"))
    assert "chu-demo.mssante.test" in parsed
    assert "cardio.chu-demo.mssante.test" not in parsed
    assert "mssante.test" not in parsed


# -- hostile files: refused before anything is expanded or fetched ----------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE ListeBlanche [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">
<DateDeGeneration>2026-12-01</DateDeGeneration>
<Domaine><Nom>a.test</Nom><Description>&lol9;</Description></Domaine>
</ListeBlanche>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE ListeBlanche [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">
<DateDeGeneration>2026-12-01</DateDeGeneration>
<Domaine><Nom>a.test</Nom><Description>&secret;</Description></Domaine>
</ListeBlanche>"""


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(WhitelistRefused, match="DTD or entities"):
        parse_bytes(BILLION_LAUGHS)


def test_an_external_entity_is_never_read() -> None:
    with pytest.raises(WhitelistRefused) as refused:
        parse_bytes(EXTERNAL_ENTITY)
    assert "DTD or entities" in str(refused.value)
    assert "root:" not in str(refused.value)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that records whether anything connects to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.3)
    try:
        yield server
    finally:
        server.close()


def nobody_connected(server: socket.socket) -> bool:
    try:
        connection, _address = server.accept()
    except TimeoutError:
        return True
    connection.close()
    return False


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE ListeBlanche SYSTEM "http://127.0.0.1:{port}/liste.dtd">',
        '<!DOCTYPE ListeBlanche [ <!ENTITY % remote SYSTEM "http://127.0.0.1:{port}/e"> %remote; ]>',
    ],
)
def test_an_external_dtd_is_never_fetched(listener: socket.socket, doctype: str) -> None:
    port = listener.getsockname()[1]
    data = (
        '<?xml version="1.0"?>' + doctype.format(port=port) + f'<ListeBlanche xmlns="{NAMESPACE}">'
        "<DateDeGeneration>x</DateDeGeneration><Domaine><Nom>a.test</Nom></Domaine></ListeBlanche>"
    ).encode()
    with pytest.raises(WhitelistRefused, match="DTD or entities"):
        parse_bytes(data)
    assert nobody_connected(listener)


def test_an_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "liste.xml"
    with big.open("wb") as stream:
        stream.truncate(whitelist.MAX_BYTES + 1)  # all zero bytes: a parse would fail otherwise
    with pytest.raises(WhitelistRefused, match="bytes, more than"):
        parse_file(big)


def test_a_stream_growing_past_the_cap_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whitelist, "MAX_BYTES", 4096)
    padding = "x" * 10_000
    data = whitelist_xml("a.test").replace(b"Op", f"{padding}Op".encode())
    with pytest.raises(WhitelistRefused, match="more than"):
        parse_bytes(data)

    class Endless:
        def read(self, size: int) -> bytes:
            return b" " * size

    with pytest.raises(WhitelistRefused, match="more than the 4096 bytes"):
        whitelist.parse(Endless())  # type: ignore[arg-type]


def test_too_many_domains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whitelist, "MAX_DOMAINS", 3)
    assert len(parse_bytes(whitelist_xml("a.test", "b.test", "c.test"))) == 3
    with pytest.raises(WhitelistRefused, match="more than 3 domains"):
        parse_bytes(whitelist_xml("a.test", "b.test", "c.test", "d.test"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not well-formed XML"),
        (b"Nom;Description\nmedecin.mssante.test;x\n", "not well-formed XML"),
        (whitelist_xml("a.test")[:-20], "not well-formed XML"),
        (
            whitelist_xml("a.test").replace(NAMESPACE.encode(), b"https://example.org/schema"),
            "root element is '{https://example.org/schema}ListeBlanche'",
        ),
        (
            whitelist_xml("a.test").replace(b' xmlns="', b' xmlns:x="'),
            "root element is 'ListeBlanche'",
        ),
        (b"<html><body>Maintenance</body></html>", "root element is 'html'"),
        (
            f'<Domaine xmlns="{NAMESPACE}"><Nom>a.test</Nom></Domaine>'.encode(),
            "root element is",
        ),
        (whitelist_xml(), "no valid domain (0 invalid entries)"),
        (whitelist_xml("pas un domaine", ""), "no valid domain (2 invalid entries)"),
        (
            whitelist_xml("a.test").replace(b"DateDeGeneration", b"Date"),
            "no DateDeGeneration",
        ),
    ],
)
def test_a_file_of_another_format_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(WhitelistRefused) as refused:
        parse_bytes(data)
    assert message in str(refused.value)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WhitelistRefused, match="cannot read"):
        parse_file(tmp_path / "absent.xml")
    with pytest.raises(WhitelistRefused, match="cannot read"):
        parse_file(tmp_path)


def test_fields_outside_the_namespace_are_ignored(tmp_path: Path) -> None:
    data = whitelist_xml("a.test").replace(
        b"<Nom>a.test</Nom>", b'<Nom>a.test</Nom><x:Nom xmlns:x="urn:x">b.test</x:Nom>'
    )
    assert set(parse_file(write(tmp_path / "l.xml", data)).domains) == {"a.test"}


def test_domains_wrapped_in_another_element_are_found() -> None:
    data = whitelist_xml("a.test", "b.test").replace(b"<Domaine>", b"<Domaines><Domaine>", 1)
    data = data.replace(b"</ListeBlanche>", b"</Domaines></ListeBlanche>")
    assert set(parse_bytes(data).domains) == {"a.test", "b.test"}


def test_memory_stays_flat_whatever_the_file_holds() -> None:
    # 200,000 stray elements: kept as a tree they would take some 16 MB.
    junk = b"<x/>" * 100_000
    data = whitelist_xml("a.test").replace(b"<Domaine>", junk + b"<Domaine><y>" + junk + b"</y>", 1)
    tracemalloc.start()
    try:
        parsed = parse_bytes(data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert set(parsed.domains) == {"a.test"}
    assert peak < 2 * 1024 * 1024
