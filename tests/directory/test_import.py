"""Import of the extraction: counts, malformed lines, refused files, the atomic swap."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from dev.directory_sample import SAMPLE
from tests.directory.conftest import SAMPLE_ROWS, extraction_file, row
from webmail.directory.extraction import COLUMNS
from webmail.directory.importer import LISTED_MALFORMED, ImportBusy, ImportRefused, import_file
from webmail.directory.index import DirectoryIndex, DirectoryUnavailable
from webmail.directory.search import Query


def count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM mailbox").fetchone()[0])


def test_the_sample_is_imported_whole(tmp_path: Path) -> None:
    seen: list[tuple[int, int, int]] = []
    report = import_file(SAMPLE, tmp_path / "index.sqlite", lambda *p: seen.append(p))
    assert (report.rows, report.malformed, report.malformed_lines) == (SAMPLE_ROWS, 0, [])
    assert count(tmp_path / "index.sqlite") == SAMPLE_ROWS
    assert seen[-1] == (SAMPLE.stat().st_size, SAMPLE.stat().st_size, SAMPLE_ROWS)
    # Nothing left beside the index but its lock.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.sqlite", "index.sqlite.lock"]


def test_malformed_lines_are_counted_with_their_numbers_and_the_rest_imported(
    tmp_path: Path,
) -> None:
    source = extraction_file(
        tmp_path / "x.txt",
        row(kind="PER", address="a.one@medecin.mssante.test", last="Un"),  # line 2
        "PER|too|few|columns",  # 3
        row(kind="PER", address="b.two@medecin.mssante.test", last="Deux").encode()
        + b"|\xff\xfe",  # 4: not UTF-8
        row(kind="PER", address="", last="Sans adresse"),  # 5
        "",  # 6: a blank line is no row and no error
        row(kind="PER", address="c.three@medecin.mssante.test", last="Trois") + "|extra|col",  # 7
        row(kind="ORG", address="pas une adresse", service="Accueil"),  # 8
        row(kind="PER", address="d.four@medecin.mssante.test", last="Quatre"),  # 9
    )
    report = import_file(source, tmp_path / "index.sqlite")
    assert report.rows == 2
    assert report.malformed == 5
    assert [number for number, _reason in report.malformed_lines] == [3, 4, 5, 7, 8]
    reasons = dict(report.malformed_lines)
    assert reasons[3] == "4 columns instead of 31"
    assert reasons[4] == "not UTF-8"
    assert reasons[5] == "empty mailbox address"
    assert count(tmp_path / "index.sqlite") == 2


def test_only_the_first_malformed_lines_are_listed_but_all_are_counted(tmp_path: Path) -> None:
    good = row(kind="PER", address="a@medecin.mssante.test", last="Bon")
    source = extraction_file(tmp_path / "x.txt", good, *(["bad"] * (LISTED_MALFORMED + 5)))
    report = import_file(source, tmp_path / "index.sqlite")
    assert report.rows == 1
    assert report.malformed == LISTED_MALFORMED + 5
    assert len(report.malformed_lines) == LISTED_MALFORMED
    assert report.malformed_lines[0][0] == 3


def test_a_file_without_one_valid_row_is_refused_and_the_live_index_kept(
    tmp_path: Path, index_path: Path
) -> None:
    for lines in ((), ("garbage", row(kind="PER", address=""))):
        with pytest.raises(ImportRefused, match="no valid row"):
            import_file(extraction_file(tmp_path / "x.txt", *lines), index_path)
    assert count(index_path) == SAMPLE_ROWS


def test_a_trailing_separator_and_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    header = "|".join(COLUMNS) + "|\r"
    source = extraction_file(
        tmp_path / "x.txt",
        row(kind="PER", address="a@medecin.mssante.test", last="Crlf") + "|\r",
        header="\ufeff" + header,
    )
    report = import_file(source, tmp_path / "index.sqlite")
    assert (report.rows, report.malformed) == (1, 0)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Nom|Prénom|Adresse", "expected 31 columns in the header, found 3"),
        (
            "|".join(("Adresse BAL", "Type de BAL", *COLUMNS[2:])),
            "column 1: expected 'Type de BAL', found 'Adresse BAL'",
        ),
        ("|".join(COLUMNS).replace("|", ";"), "expected 31 columns in the header, found 1"),
    ],
)
def test_a_file_with_the_wrong_header_is_refused_and_the_live_index_kept(
    tmp_path: Path, index_path: Path, header: str, expected: str
) -> None:
    source = extraction_file(tmp_path / "x.txt", row(address="a@b.test"), header=header)
    with pytest.raises(ImportRefused) as refused:
        import_file(source, index_path)
    assert expected in str(refused.value)
    assert count(index_path) == SAMPLE_ROWS
    assert not index_path.with_name(index_path.name + ".building").exists()


def test_a_binary_or_missing_file_is_refused(tmp_path: Path, index_path: Path) -> None:
    binary = tmp_path / "x.zip"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00" * 50)
    with pytest.raises(ImportRefused, match="not UTF-8"):
        import_file(binary, index_path)
    with pytest.raises(ImportRefused, match="cannot read"):
        import_file(tmp_path / "missing.txt", index_path)
    assert count(index_path) == SAMPLE_ROWS


def test_a_second_import_of_the_same_index_at_once_is_refused(
    tmp_path: Path, index_path: Path
) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_progress(*_progress: int) -> None:
        started.set()
        release.wait(10)

    first = threading.Thread(target=import_file, args=(SAMPLE, index_path, slow_progress))
    first.start()
    try:
        assert started.wait(10)
        with pytest.raises(ImportBusy):
            import_file(SAMPLE, index_path)
    finally:
        release.set()
        first.join()
    assert count(index_path) == SAMPLE_ROWS


def test_searches_keep_working_during_a_reimport_and_see_the_new_rows_after(
    tmp_path: Path, index_path: Path
) -> None:
    directory = DirectoryIndex(index_path)
    assert directory.search_now(Query("Lefèvre"))
    assert directory.search_now(Query("Zébulon")) == []
    # The new extraction has someone more: the import is held mid-way while searches run.
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    new_row = row(kind="PER", address="zebulon.neuf@medecin.mssante.test", last="Zébulon",
                  first="Neuf", national_id="812345678901")  # fmt: skip
    source = tmp_path / "new.txt"
    source.write_text("\n".join([*lines, new_row]) + "\n", encoding="utf-8")
    in_progress, release = threading.Event(), threading.Event()

    def held(*_progress: int) -> None:
        in_progress.set()
        release.wait(10)

    importing = threading.Thread(target=import_file, args=(source, index_path, held))
    importing.start()
    try:
        assert in_progress.wait(10)
        # During the import, the old index answers, both on a fresh and an open connection.
        assert directory.search_now(Query("Lefèvre"))
        other = DirectoryIndex(index_path)
        assert other.search_now(Query("lefevre"))
        assert directory.search_now(Query("Zébulon")) == []
    finally:
        release.set()
        importing.join()
    # After the swap the same objects see the new rows, without a restart.
    found = directory.search_now(Query("zebulon"))
    assert [entry.addresses[0].address for entry in found] == ["zebulon.neuf@medecin.mssante.test"]
    assert other.search_now(Query("Zébulon neuf"))
    directory.close()
    other.close()


def test_a_connection_open_on_the_old_file_still_reads_it_after_the_swap(
    index_path: Path,
) -> None:
    old = sqlite3.connect(f"{index_path.as_uri()}?mode=ro&immutable=1", uri=True)
    cursor = old.execute("SELECT address FROM mailbox ORDER BY id")
    first = cursor.fetchone()
    import_file(SAMPLE, index_path)  # a new file replaces the old one under the reader
    rest = cursor.fetchall()
    assert 1 + len(rest) == SAMPLE_ROWS
    assert first[0] == "dr.martin@medecin.mssante.test"
    old.close()


def test_without_an_index_searches_say_the_directory_is_unavailable(tmp_path: Path) -> None:
    directory = DirectoryIndex(tmp_path / "none.sqlite")
    assert not directory.available()
    with pytest.raises(DirectoryUnavailable):
        directory.search_now(Query("martin"))
    (tmp_path / "none.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(DirectoryUnavailable):
        directory.search_now(Query("martin"))
    directory.close()
