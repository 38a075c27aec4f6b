"""The audit trail records who did what, and never what the mail says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import (
    MailUser,
    csrf_token,
    deliver,
    form_value,
    login,
    simple_mail,
    wait_for_messages,
)
from webmail.app import create_app
from webmail.settings import Settings

SECRET_SUBJECT = "Séropositivité de M. Exemple"
SECRET_BODY = "Charge virale indétectable"


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "audit.log"


@pytest.fixture
def audited(env: dict[str, str], audit_file: Path) -> Iterator[TestClient]:
    settings = Settings.from_env({**env, "MSS_AUDIT_LOG": str(audit_file)})
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def entries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_action_is_traced_without_content(
    audited: TestClient, audit_file: Path, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    message = simple_mail("labo@labo-demo.mssante.test", user.address, SECRET_SUBJECT, SECRET_BODY)
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="bilan.pdf")
    uid = deliver(stack, user, message)

    page = audited.get("/login")
    audited.post("/login", data={"address": user.address, "password": "faux-mot-de-passe",
                                 "login_token": form_value(page.text, "login_token")})
    login(audited, user)
    audited.get(f"/mail/message?folder=INBOX&uid={uid}")
    audited.get(f"/mail/attachment?folder=INBOX&uid={uid}&part=2")
    token = csrf_token(audited)
    audited.post("/compose", data={"csrf_token": token, "mode": "new", "action": "send",
                                   "to": other_user.address, "subject": SECRET_SUBJECT,
                                   "body": SECRET_BODY})
    wait_for_messages(stack, other_user)
    audited.post("/mail/delete", data={"folder": "INBOX", "uid": uid, "csrf_token": token})
    audited.post("/logout", data={"csrf_token": token})

    trail = entries(audit_file)
    actions = [(entry["action"], entry["result"]) for entry in trail]
    assert actions == [
        ("login", "refused"), ("login_password", "ok"), ("otp_enrolled", "ok"), ("login", "ok"),
        ("message_read", "ok"),
        ("attachment_download", "ok"), ("message_sent", "ok"), ("message_deleted", "ok"),
        ("logout", "ok"),
    ]
    for entry in trail:
        assert entry["account"] == user.address
        assert entry["ip"] == "testclient" or entry["ip"]
        assert entry["time"].endswith(("+01:00", "+02:00")) and entry["time_utc"].endswith("Z")
    # The password-only session and the full one have different ids; then one session to the end.
    pending, full = trail[1]["session"], trail[3]["session"]
    assert pending != full and len(full) == 16
    assert {entry["session"] for entry in trail[3:]} == {full}
    assert trail[4]["target"] == {"folder": "INBOX", "uid": uid}
    assert trail[6]["target"]["recipients"] == [other_user.address]
    text = audit_file.read_text(encoding="utf-8")
    assert SECRET_SUBJECT not in text and SECRET_BODY not in text
    assert user.password not in text and "faux-mot-de-passe" not in text
    assert audit_file.stat().st_mode & 0o077 == 0


def test_refused_send_is_traced_with_the_servers_answer(
    audited: TestClient, audit_file: Path, user: MailUser
) -> None:
    login(audited, user)
    audited.post("/compose", data={"csrf_token": csrf_token(audited), "mode": "new",
                                   "action": "send", "to": "inconnu@infirmier.mssante.test",
                                   "subject": SECRET_SUBJECT, "body": SECRET_BODY})
    sent = [entry for entry in entries(audit_file) if entry["action"] == "message_sent"]
    assert sent[0]["result"] == "SmtpRefused"
    assert "550" in sent[0]["target"]["answer"]


def test_replayed_and_brute_forced_codes_are_security_events(
    env: dict[str, str], audit_file: Path, user: MailUser
) -> None:
    from tests.auth.test_second_factor import password_step, submit_code
    from tests.conftest import fresh_code

    settings = Settings.from_env({**env, "MSS_AUDIT_LOG": str(audit_file),
                                  "MSS_LOGIN_MAX_FAILURES": "3"})
    with TestClient(create_app(settings), follow_redirects=False) as first:
        login(first, user)
    with TestClient(create_app(settings), follow_redirects=False) as second:
        code = fresh_code(user)
        password_step(second, user)
        assert submit_code(second, code).status_code == 303
    with TestClient(create_app(settings), follow_redirects=False) as attacker:
        password_step(attacker, user)
        submit_code(attacker, code)  # replay
        submit_code(attacker, "000000")
        submit_code(attacker, "111111")
    actions = [entry["action"] for entry in entries(audit_file)]
    assert "otp_replay" in actions and "otp_locked" in actions
