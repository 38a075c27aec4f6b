"""The real app with a whitelist, its audit trail in a file, and what the servers hold."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, imap_for
from tests.trust.samples import SAMPLE
from webmail.app import create_app
from webmail.settings import Settings


@contextlib.contextmanager
def webmail(env: dict[str, str], tmp_path: Path, **overrides: str) -> Iterator[TestClient]:
    """The webmail with the sample whitelist copied to ``tmp_path/whitelist.xml`` (unless
    MSS_TRUST_WHITELIST is overridden) and the audit trail in ``tmp_path/audit.log``."""
    listed = tmp_path / "whitelist.xml"
    if not listed.exists():
        shutil.copy(SAMPLE, listed)
    settings = Settings.from_env(
        {
            **env,
            "MSS_TRUST_WHITELIST": str(listed),
            "MSS_AUDIT_LOG": str(tmp_path / "audit.log"),
            **overrides,
        }
    )
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        yield client


def audit_lines(tmp_path: Path, action: str) -> list[dict[str, Any]]:
    path = tmp_path / "audit.log"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line["action"] == action]


def count(stack: Stack, user: MailUser, folder: str = "INBOX") -> int:
    imap = imap_for(stack, user)
    try:
        typ, data = imap.select(f'"{folder}"', readonly=True)
        return int(data[0]) if typ == "OK" else 0
    finally:
        imap.logout()
