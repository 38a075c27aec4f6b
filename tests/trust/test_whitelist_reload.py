"""The whitelist in force follows its file without a restart, and never empties by accident."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path

import pytest

from tests.trust.samples import whitelist_xml, write
from webmail.trust import source as source_module
from webmail.trust.policy import TrustConfig
from webmail.trust.source import WhitelistSource, open_source


def install(path: Path, data: bytes) -> None:
    """As the import command does: a new file beside, then renamed over the old one."""
    temporary = path.with_suffix(".new")
    temporary.write_bytes(data)
    os.replace(temporary, path)


async def test_a_changed_file_is_loaded(tmp_path: Path) -> None:
    path = write(tmp_path / "liste.xml", whitelist_xml("a.test"))
    source = WhitelistSource(path, check_seconds=0)
    first = await source.current()
    assert first is not None and set(first.domains) == {"a.test"}
    install(path, whitelist_xml("a.test", "b.test"))
    second = await source.current()
    assert second is not None and set(second.domains) == {"a.test", "b.test"}


async def test_the_file_is_looked_at_no_more_than_every_few_seconds(tmp_path: Path) -> None:
    path = write(tmp_path / "liste.xml", whitelist_xml("a.test"))
    source = WhitelistSource(path, check_seconds=3600)
    assert await source.current() is not None
    install(path, whitelist_xml("b.test"))
    listed = await source.current()
    assert listed is not None and "a.test" in listed  # not looked at again yet
    await source.refresh()
    listed = await source.current()
    assert listed is not None and set(listed.domains) == {"b.test"}


async def test_an_unchanged_file_is_not_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "liste.xml", whitelist_xml("a.test"))
    source = WhitelistSource(path, check_seconds=0)
    await source.current()
    parses: list[Path] = []
    monkeypatch.setattr(source_module, "parse_file", lambda p: parses.append(p))
    for _ in range(5):
        await source.current()
    assert parses == []


async def test_the_parse_runs_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "liste.xml", whitelist_xml("a.test"))
    threads: list[str] = []
    real = source_module.parse_file

    def recording(p: Path):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real(p)

    monkeypatch.setattr(source_module, "parse_file", recording)
    await WhitelistSource(path, check_seconds=0).current()
    assert threads and threads[0] != threading.main_thread().name


@pytest.mark.parametrize(
    "broken",
    [
        b"",
        whitelist_xml("a.test")[:100],  # a download cut short
        whitelist_xml(),  # no domains at all
        b'<!DOCTYPE x [<!ENTITY e "e">]><x/>',
    ],
)
async def test_a_broken_new_file_keeps_the_previous_list(
    tmp_path: Path, broken: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "liste.xml", whitelist_xml("a.test", "b.test"))
    source = WhitelistSource(path, check_seconds=0)
    await source.current()
    install(path, broken)
    with caplog.at_level(logging.ERROR, logger="webmail.trust.source"):
        for _ in range(3):
            listed = await source.current()
            assert listed is not None and set(listed.domains) == {"a.test", "b.test"}
    # One clear line, not one per check.
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "refused" in errors[0]
    assert "the previous list (2 domains) stays in force" in errors[0]
    # Then a good file again is taken.
    install(path, whitelist_xml("c.test"))
    listed = await source.current()
    assert listed is not None and set(listed.domains) == {"c.test"}


async def test_a_vanished_file_keeps_the_previous_list(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "liste.xml", whitelist_xml("a.test"))
    source = WhitelistSource(path, check_seconds=0)
    await source.current()
    path.unlink()
    with caplog.at_level(logging.ERROR, logger="webmail.trust.source"):
        await source.current()
        await source.current()
    listed = await source.current()
    assert listed is not None and "a.test" in listed
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "cannot read" in errors[0]


async def test_no_list_until_a_valid_file_is_installed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "liste.xml", b"<html/>")
    source = WhitelistSource(path, check_seconds=0)
    with caplog.at_level(logging.ERROR, logger="webmail.trust.source"):
        assert await source.current() is None
    assert "every send is refused" in caplog.text
    install(path, whitelist_xml("a.test"))
    assert await source.current() is not None


async def test_concurrent_requests_parse_a_new_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "liste.xml", whitelist_xml("a.test"))
    source = WhitelistSource(path, check_seconds=0.5)
    parses: list[Path] = []
    real = source_module.parse_file

    def counting(p: Path):  # type: ignore[no-untyped-def]
        parses.append(p)
        return real(p)

    monkeypatch.setattr(source_module, "parse_file", counting)
    results = await asyncio.gather(*(source.current() for _ in range(20)))
    assert len(parses) == 1
    assert all(result is not None and "a.test" in result for result in results)


async def test_without_a_configured_file_nothing_is_checked_and_the_start_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="webmail.trust.source"):
        assert await open_source(TrustConfig()) is None
    assert "recipients are not checked" in caplog.text


async def test_a_configured_file_is_loaded_at_the_start(tmp_path: Path) -> None:
    path = write(tmp_path / "liste.xml", whitelist_xml("a.test"))
    source = await open_source(TrustConfig(whitelist=path))
    assert source is not None and source.loaded is not None and "a.test" in source.loaded
