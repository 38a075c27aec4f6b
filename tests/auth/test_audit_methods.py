"""The audit trail tells how each login proved the second factor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.auth.test_races import enrol
from tests.auth.test_second_factor import password_step, submit_code
from tests.conftest import MailUser, fresh_code
from webmail.app import create_app
from webmail.settings import Settings


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "audit.log"


@pytest.fixture
def audited(env: dict[str, str], audit_file: Path) -> Settings:
    return Settings.from_env({**env, "MSS_AUDIT_LOG": str(audit_file)})


def entries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def logins(path: Path) -> list[tuple[object, object]]:
    return [
        (entry["action"], (entry.get("target") or {}).get("method"))  # type: ignore[union-attr]
        for entry in entries(path)
        if entry["action"] in ("login", "otp_recovery_used", "otp_enrolled")
        and entry["result"] == "ok"
    ]


@pytest.fixture
def browser(audited: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(audited), follow_redirects=False) as client:
        yield client


def test_a_recovery_code_login_is_not_a_plain_login(
    browser: TestClient, audited: Settings, audit_file: Path, user: MailUser
) -> None:
    codes = enrol(audited, user)
    password_step(browser, user)
    assert submit_code(browser, codes[0]).status_code == 303
    browser.cookies.clear()
    password_step(browser, user)
    assert submit_code(browser, fresh_code(user)).status_code == 303
    assert logins(audit_file) == [
        ("otp_enrolled", None),
        ("login", "enrolment"),
        ("otp_recovery_used", None),
        ("login", "recovery"),
        ("login", "totp"),
    ]
    recovery = next(e for e in entries(audit_file) if e["action"] == "otp_recovery_used")
    assert recovery["account"] == user.address and recovery["session"]
    # Never the code itself.
    assert codes[0] not in audit_file.read_text()
