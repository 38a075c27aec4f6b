"""``mss-webmail whitelist import``: a checked file installed in one rename, or nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.trust.samples import SAMPLE, whitelist_xml, write
from webmail import cli
from webmail.trust import cli as whitelist_cli
from webmail.trust.source import WhitelistSource


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webmail.cli", "whitelist", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_import_installs_the_sample_and_reports_it(tmp_path: Path) -> None:
    target = tmp_path / "listeblanchemssante.xml"
    result = run("import", str(SAMPLE), env={"MSS_TRUST_WHITELIST": str(target)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"85 domains installed at {target} (generated 2026-11-30T04:00:12+01:00)"
    assert "1 duplicate entries merged" in lines
    assert "2 invalid entries left out:" in lines
    assert "  Domaine #88: invalid domain 'pas un domaine'" in lines
    assert target.read_bytes() == SAMPLE.read_bytes()
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>Service indisponible</html>", "root element is 'html'"),
        (b'<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]><x>&a;</x>', "DTD or entities"),
        (whitelist_xml(), "no valid domain"),
    ],
)
def test_a_refused_file_changes_nothing(tmp_path: Path, content: bytes, message: str) -> None:
    target = write(tmp_path / "listeblanchemssante.xml", whitelist_xml("a.test"))
    before = target.read_bytes(), target.stat().st_ino
    candidate = write(tmp_path / "download.xml", content)
    result = run("import", str(candidate), "--target", str(target))
    assert result.returncode == 1
    assert message in result.stderr
    assert "nothing installed" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert (target.read_bytes(), target.stat().st_ino) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["download.xml", target.name]


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    result = run("import", str(tmp_path / "absent.xml"), "--target", str(tmp_path / "l.xml"))
    assert result.returncode == 1
    assert "cannot read" in result.stderr
    assert not (tmp_path / "l.xml").exists()


def test_without_a_target_nothing_is_done(tmp_path: Path) -> None:
    result = run("import", str(SAMPLE))
    assert result.returncode == 2
    assert "MSS_TRUST_WHITELIST is not set" in result.stderr


def test_a_target_that_cannot_be_written(tmp_path: Path) -> None:
    result = run("import", str(SAMPLE), "--target", str(tmp_path / "absent" / "l.xml"))
    assert result.returncode == 2
    assert "cannot install at" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_without_an_action_shows_its_usage() -> None:
    result = run()
    assert result.returncode == 2
    assert "import" in result.stderr


def test_a_failed_write_leaves_the_old_file_and_no_leftover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write(tmp_path / "l.xml", whitelist_xml("a.test"))
    before = target.read_bytes()

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(whitelist_cli.os, "fsync", disk_full)
    assert cli.main(["whitelist", "import", str(SAMPLE), "--target", str(target)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.xml"]


async def test_the_running_webmail_picks_up_an_import(tmp_path: Path) -> None:
    target = write(tmp_path / "l.xml", whitelist_xml("a.test"))
    source = WhitelistSource(target, check_seconds=0)
    assert await source.current() is not None
    inode = target.stat().st_ino
    assert cli.main(["whitelist", "import", str(SAMPLE), "--target", str(target)]) == 0
    assert target.stat().st_ino != inode  # renamed over, never rewritten in place
    listed = await source.current()
    assert listed is not None and len(listed) == 85 and "a.test" not in listed
    os.utime(target)  # touched, same content: parsed again, same list
    again = await source.current()
    assert again is not None and len(again) == 85
