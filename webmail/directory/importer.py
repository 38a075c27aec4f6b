"""Import of the extraction into a SQLite index, built beside the live one and swapped in.

The file is read line by line (never whole), rows go in by batches in one transaction on a
file no reader sees yet, with the journal and fsyncs off: a crash leaves only a stray
``.building`` file, never a damaged live index. The full-text index is filled from the table in
one statement at the end, which is much faster than row by row. ``os.replace`` then swaps the
new file in: readers still open on the old file keep reading it (its inode lives while it is
open) and reopen the new one at their next search.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from webmail.directory import extraction
from webmail.directory.extraction import MalformedLine, Values

BATCH_ROWS = 20_000
# How many malformed lines are listed by number; all are counted.
LISTED_MALFORMED = 20

Progress = Callable[[int, int, int], None]
"""progress(bytes read, file size, rows imported), called every batch."""

SCHEMA = """
CREATE TABLE mailbox (
    id INTEGER PRIMARY KEY,
    person TEXT NOT NULL,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    national_id TEXT NOT NULL,
    civility TEXT NOT NULL,
    last_name TEXT NOT NULL,
    first_name TEXT NOT NULL,
    profession_code TEXT NOT NULL,
    profession TEXT NOT NULL,
    specialty_code TEXT NOT NULL,
    specialty TEXT NOT NULL,
    service TEXT NOT NULL,
    workplace TEXT NOT NULL,
    street TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    city TEXT NOT NULL
);
-- Contentless: the text lives once, in mailbox; the index holds only the terms (searches
-- read rowids). Prefixes of 2 to 4 characters are indexed, so "car" or "lef" scan no terms.
-- Professions and specialties are not words in it: a few hundred labels, some on half the
-- rows ("Médecin"), whose postings a prefix query would read whole. Each label is one token
-- of the labels column instead ("p1", "s12": its id in vocabulary), which a query names
-- exactly (see search.py). Nor is the address's domain, shared by most rows
-- ("medecin.mssante.fr"): only its local part.
CREATE VIRTUAL TABLE mailbox_text USING fts5(
    last_name, first_name, city, postal_code, workplace, service, mailbox, labels,
    content='', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4'
);
CREATE TABLE vocabulary (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL, UNIQUE (kind, label)
);
CREATE TABLE about (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
INDEXES = """
CREATE INDEX mailbox_person ON mailbox (person);
CREATE INDEX mailbox_national_id ON mailbox (national_id) WHERE national_id != ''
"""
_INSERT = (
    "INSERT INTO mailbox (person, kind, address, national_id, civility, last_name, first_name, "
    "profession_code, profession, specialty_code, specialty, service, workplace, street, "
    "postal_code, city) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_FILL_VOCABULARY = (
    "INSERT INTO vocabulary (kind, label) SELECT DISTINCT 'profession', profession FROM mailbox "
    "WHERE profession != '' UNION SELECT DISTINCT 'specialty', specialty FROM mailbox "
    "WHERE specialty != ''"
)
_FILL_TEXT = (
    "INSERT INTO mailbox_text (rowid, last_name, first_name, city, postal_code, workplace, "
    "service, mailbox, labels) SELECT m.id, m.last_name, m.first_name, m.city, m.postal_code, "
    "m.workplace, m.service, substr(m.address, 1, instr(m.address, '@') - 1), "
    "coalesce('p' || p.id, '') || ' ' || coalesce('s' || s.id, '') FROM mailbox AS m "
    "LEFT JOIN vocabulary AS p ON p.kind = 'profession' AND p.label = m.profession "
    "LEFT JOIN vocabulary AS s ON s.kind = 'specialty' AND s.label = m.specialty"
)


class ImportRefused(Exception):
    """The file is not an extraction (or cannot be read); nothing was changed."""


class ImportBusy(ImportRefused):
    """Another import of the same index is running."""


@dataclass
class ImportReport:
    rows: int = 0
    malformed: int = 0
    # (line number, reason) of the first LISTED_MALFORMED malformed lines.
    malformed_lines: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0

    def reject(self, line_number: int, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_lines) < LISTED_MALFORMED:
            self.malformed_lines.append((line_number, reason))


def import_file(source: Path, index: Path, progress: Progress | None = None) -> ImportReport:
    """Builds a new index from the extraction ``source`` and swaps it in at ``index``.

    Raises ImportRefused (wrong header, unreadable file, another import running); the live
    index is then untouched.
    """
    started = time.monotonic()
    index.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(index), _opened(source) as stream:
        building = index.with_name(f"{index.name}.building")
        building.unlink(missing_ok=True)
        try:
            report = _build(stream, _size(stream), building, progress)
            _swap(building, index)
        finally:
            building.unlink(missing_ok=True)
    report.seconds = time.monotonic() - started
    return report


@contextlib.contextmanager
def _exclusive(index: Path) -> Iterator[None]:
    """One import at a time per index: two would build the same ``.building`` file."""
    lock_path = index.with_name(f"{index.name}.lock")
    with lock_path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportBusy(f"another import of {index} is running") from None
        yield


@contextlib.contextmanager
def _opened(source: Path) -> Iterator[BinaryIO]:
    try:
        stream = source.open("rb")
    except OSError as error:
        raise ImportRefused(f"cannot read {source}: {error.strerror}") from None
    with stream:
        yield stream


def _size(stream: BinaryIO) -> int:
    try:
        return os.fstat(stream.fileno()).st_size
    except OSError:
        return 0


def _build(stream: BinaryIO, size: int, path: Path, progress: Progress | None) -> ImportReport:
    _check_header(stream.readline())
    db = sqlite3.connect(path, isolation_level=None)
    try:
        # Nobody reads this file until it is complete, and a failed build is thrown away:
        # no journal, no fsync, a big page cache.
        db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;"
            "PRAGMA cache_size=-16384; PRAGMA page_size=8192;"
        )
        db.executescript(SCHEMA)
        db.execute("BEGIN")
        report = ImportReport()
        for batch in _batches(stream, report):
            db.executemany(_INSERT, batch)
            report.rows += len(batch)
            if progress is not None:
                progress(stream.tell(), size, report.rows)
        if report.rows == 0:
            # An empty or garbled download must not replace a good index with nothing.
            raise ImportRefused(f"no valid row ({report.malformed} malformed line(s))")
        db.execute(_FILL_VOCABULARY)
        db.execute(_FILL_TEXT)
        for statement in INDEXES.split(";"):
            db.execute(statement)  # not executescript, which would commit first
        db.execute("INSERT INTO mailbox_text (mailbox_text) VALUES ('optimize')")
        db.execute("INSERT INTO about VALUES ('rows', ?)", (str(report.rows),))
        db.execute("COMMIT")
        db.execute("ANALYZE")
    finally:
        db.close()
    return report


def _check_header(first_line: bytes) -> None:
    try:
        header = first_line.decode("utf-8")
    except UnicodeDecodeError:
        raise ImportRefused("the header is not UTF-8: is this the extraction file?") from None
    problem = extraction.header_problem(header)
    if problem is not None:
        raise ImportRefused(f"not a directory extraction ({problem})")


def _batches(stream: BinaryIO, report: ImportReport) -> Iterator[list[Values]]:
    batch: list[Values] = []
    # Line 1 is the header.
    for line_number, raw in enumerate(stream, 2):
        try:
            row = extraction.values(extraction.split(raw.decode("utf-8")))
        except UnicodeDecodeError:
            report.reject(line_number, "not UTF-8")
            continue
        except MalformedLine as error:
            if raw.strip():  # a blank line (often the last one) is no row at all
                report.reject(line_number, str(error))
            continue
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _swap(building: Path, index: Path) -> None:
    """Makes the new file durable, then the live one, in one rename."""
    with building.open("rb") as built:
        os.fsync(built.fileno())
    os.replace(building, index)
    directory = os.open(index.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
