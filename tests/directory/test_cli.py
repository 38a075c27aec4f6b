"""``mss-webmail directory import``: summary, malformed lines, refusals and exit codes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dev.directory_sample import SAMPLE
from tests.conftest import ROOT
from tests.directory.conftest import SAMPLE_ROWS, extraction_file, row
from webmail.cli import main
from webmail.directory.cli import EXIT_REFUSED, ProgressBar
from webmail.directory.index import DirectoryIndex
from webmail.directory.search import Query


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MSS_")}
    return subprocess.run(
        [sys.executable, "-m", "webmail.cli", "directory", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_import_prints_a_summary_and_the_index_answers(tmp_path: Path) -> None:
    index = tmp_path / "annuaire.sqlite"
    done = cli("import", str(SAMPLE), "--index", str(index))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{SAMPLE_ROWS} mailboxes imported into {index} in ")
    assert last.endswith("0 malformed line(s) skipped")
    assert DirectoryIndex(index).search_now(Query("claire martin"))


def test_the_index_defaults_to_the_setting_then_the_data_directory(tmp_path: Path) -> None:
    assert cli("import", str(SAMPLE), MSS_DATA_DIR=str(tmp_path)).returncode == 0
    assert (tmp_path / "annuaire.sqlite").is_file()
    chosen = tmp_path / "elsewhere.sqlite"
    done = cli("import", str(SAMPLE), MSS_DATA_DIR=str(tmp_path), MSS_DIRECTORY_INDEX=str(chosen))
    assert done.returncode == 0
    assert chosen.is_file()
    nowhere = cli("import", str(SAMPLE))
    assert nowhere.returncode == 2
    assert "MSS_DIRECTORY_INDEX" in nowhere.stderr


def test_malformed_lines_are_listed_by_number(tmp_path: Path) -> None:
    source = extraction_file(
        tmp_path / "x.txt",
        row(kind="PER", address="a@medecin.mssante.test", last="Un"),
        "PER|a@b.test|too few",
        row(kind="PER", address="", last="Vide"),
    )
    done = cli("import", str(source), "--index", str(tmp_path / "i.sqlite"))
    assert done.returncode == 0
    lines = done.stderr.strip().splitlines()
    assert lines[-3].endswith("2 malformed line(s) skipped")
    assert lines[-2:] == ["  line 3: 3 columns instead of 31", "  line 4: empty mailbox address"]


def test_a_wrong_header_is_refused_with_a_clear_message_and_exit_code(tmp_path: Path) -> None:
    index = tmp_path / "i.sqlite"
    assert cli("import", str(SAMPLE), "--index", str(index)).returncode == 0
    source = extraction_file(tmp_path / "x.csv", row(address="a@b.test"), header="nom;adresse")
    done = cli("import", str(source), "--index", str(index))
    assert done.returncode == EXIT_REFUSED
    assert done.stderr.strip() == (
        f"mss-webmail: {source} refused: not a directory extraction (expected 31 columns in "
        "the header, found 1); the index is unchanged"
    )
    assert "Traceback" not in done.stderr
    assert DirectoryIndex(index).search_now(Query("claire martin"))  # the old index stays


def test_in_process_with_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["directory", "import", str(SAMPLE), "--index", str(tmp_path / "i")]) == 0
    assert f"{SAMPLE_ROWS} mailboxes imported" in capsys.readouterr().err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_one_line_on_a_terminal_and_sparse_in_a_log() -> None:
    terminal = Terminal()
    bar = ProgressBar(terminal)
    for done in range(0, 101):
        bar.update(done, 100, done * 10)
    bar.clear()
    shown = terminal.getvalue()
    assert "\n" not in shown
    assert "[##############################] 100% 1000 rows" in shown
    assert shown.endswith("\r")
    log = io.StringIO()
    bar = ProgressBar(log)
    for done in range(0, 101):
        bar.update(done, 100, done)
    assert log.getvalue().splitlines() == [f"{p}% read, {p} rows" for p in range(0, 101, 10)]
