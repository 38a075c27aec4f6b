"""Every way of seeing a message's content leaves a ``message_read`` line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, login, simple_mail
from webmail.app import create_app
from webmail.settings import Settings


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "audit.log"


@pytest.fixture
def audited(env: dict[str, str], audit_file: Path, user: MailUser) -> Iterator[TestClient]:
    settings = Settings.from_env({**env, "MSS_AUDIT_LOG": str(audit_file)})
    with TestClient(create_app(settings), follow_redirects=False) as client:
        login(client, user)
        yield client


def reads(path: Path) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line["action"] == "message_read"]


@pytest.mark.parametrize(
    ("url", "via"),
    [
        ("/mail/message?folder=INBOX&uid={uid}", None),
        ("/mail/message/frame?folder=INBOX&uid={uid}", "frame"),
        ("/compose?mode=reply&folder=INBOX&uid={uid}", "reply"),
        ("/compose?mode=replyall&folder=INBOX&uid={uid}", "replyall"),
        ("/compose?mode=forward&folder=INBOX&uid={uid}", "forward"),
    ],
)
def test_each_way_of_reading_is_traced(
    audited: TestClient, audit_file: Path, stack: Stack, user: MailUser, url: str, via: str | None
) -> None:
    uid = deliver(stack, user, simple_mail("labo@labo-demo.mssante.test", user.address, "Bilan"))
    assert audited.get(url.format(uid=uid)).status_code == 200
    [line] = reads(audit_file)
    target = line["target"]
    assert isinstance(target, dict)
    assert target["uid"] == uid
    assert target["folder"] == "INBOX"
    assert target.get("via") == via
    assert line["account"] == user.address
