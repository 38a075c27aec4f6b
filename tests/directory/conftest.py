"""The directory's fixtures: the committed sample imported once per test, extraction files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.directory_sample import SAMPLE
from webmail.directory.extraction import COLUMNS, SEPARATOR
from webmail.directory.importer import import_file
from webmail.directory.index import DirectoryIndex
from webmail.settings import Settings

SAMPLE_ROWS = SAMPLE.read_bytes().count(b"\n") - 1


def row(**values: str) -> str:
    """One extraction line, columns named as in the header (or by their short names)."""
    short = {
        "kind": "Type de BAL",
        "address": "Adresse BAL",
        "national_id": "Identification nationale PP",
        "last": "Nom d'exercice",
        "first": "Prénom d'exercice",
        "profession": "Libellé Profession",
        "specialty": "Libellé savoir-faire",
        "service": "Service de rattachement",
        "workplace": "Raison Sociale structure BAL",
        "postal_code": "Code postal structure BAL",
        "city": "L6LIGNEACHEMINEMENT structure BAL",
    }
    fields = dict.fromkeys(COLUMNS, "")
    for name, value in values.items():
        fields[short.get(name, name)] = value
    return SEPARATOR.join(fields[column] for column in COLUMNS)


def extraction_file(path: Path, *lines: str | bytes, header: str | None = None) -> Path:
    """An extraction with the real header (or ``header``) and these lines, as given."""
    with path.open("wb") as out:
        out.write(((header if header is not None else SEPARATOR.join(COLUMNS)) + "\n").encode())
        for line in lines:
            out.write((line if isinstance(line, bytes) else line.encode()) + b"\n")
    return path


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    path = tmp_path / "annuaire.sqlite"
    import_file(SAMPLE, path)
    return path


@pytest.fixture
def directory(index_path: Path) -> Iterator[DirectoryIndex]:
    index = DirectoryIndex(index_path)
    yield index
    index.close()


@pytest.fixture
def settings(env: dict[str, str], index_path: Path) -> Settings:
    """The app's settings with an index of the sample of its own (the app fixtures use it)."""
    return Settings.from_env({**env, "MSS_DIRECTORY_INDEX": str(index_path)})
