"""The synthetic extraction: the committed sample is the generator's, in the real format."""

from __future__ import annotations

import collections
import re
from pathlib import Path

from dev.directory_sample import SAMPLE, rows, write
from tests.directory.conftest import SAMPLE_ROWS
from webmail.directory import extraction


def test_the_committed_sample_is_what_the_generator_makes(tmp_path: Path) -> None:
    fresh = tmp_path / "sample.txt"
    write(fresh, SAMPLE_ROWS)
    assert fresh.read_bytes() == SAMPLE.read_bytes()
    assert SAMPLE.stat().st_size < 500_000


def test_the_sample_has_the_real_header_and_31_columns_everywhere() -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    assert extraction.header_problem(lines[0]) is None
    assert lines[0].split("|") == list(extraction.COLUMNS)
    assert {len(line.split("|")) for line in lines} == {31}


def test_the_sample_looks_like_the_directory() -> None:
    parsed = [extraction.parse(fields) for fields in rows(SAMPLE_ROWS)]
    kinds = collections.Counter(m.kind for m in parsed)
    assert set(kinds) == {"PER", "ORG", "APP", "CAB"}
    professions = {m.profession_code for m in parsed if m.kind == "PER"}
    assert {"10", "21", "40", "50", "60", "70"} <= professions
    assert {m.specialty for m in parsed} >= {
        "Médecine générale",
        "Cardiologie et maladies vasculaires",
    }
    ids = [m.national_id for m in parsed if m.kind == "PER"]
    assert all(re.fullmatch(r"8\d{11}", national_id) for national_id in ids)
    per_person = collections.Counter(ids)
    assert max(per_person.values()) >= 3  # some people have several mailboxes
    assert all(m.service for m in parsed if m.kind == "ORG")
    assert any(c in m.last_name + m.first_name for m in parsed for c in "éèëïô")
    # The demo's mailboxes are there, so the demo's directory can reach them.
    addresses = {m.address for m in parsed}
    assert {
        "dr.martin@medecin.mssante.test",
        "secretariat.cardio@ch-demo.mssante.test",
    } <= addresses
    assert len(addresses) == len(parsed)
    assert all(m.address.endswith(".mssante.test") for m in parsed)
