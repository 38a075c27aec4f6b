"""Every state change needs the session's token and the same origin."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, csrf_token, deliver, simple_mail

ACTIONS = ["/mail/flag", "/mail/move", "/mail/delete", "/compose", "/logout"]


@pytest.fixture
def message_uid(stack: Stack, user: MailUser) -> int:
    return deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Cible"))


@pytest.mark.parametrize("path", ACTIONS[:-1])
def test_missing_token_is_refused(logged_in: TestClient, message_uid: int, path: str) -> None:
    response = logged_in.post(
        path,
        data={
            "folder": "INBOX",
            "uid": message_uid,
            "flag": "seen",
            "value": "1",
            "target": "Archive",
            "to": "x@y.fr",
        },
    )
    assert response.status_code == 403
    assert logged_in.get("/mail").context["page"].total == 1


@pytest.mark.parametrize("path", ACTIONS[:-1])
def test_wrong_token_is_refused(logged_in: TestClient, message_uid: int, path: str) -> None:
    response = logged_in.post(
        path,
        data={"folder": "INBOX", "uid": message_uid, "target": "Archive", "csrf_token": "A" * 43},
    )
    assert response.status_code == 403


def test_cross_site_request_is_refused_even_with_the_token(
    logged_in: TestClient, message_uid: int
) -> None:
    token = csrf_token(logged_in)
    response = logged_in.post(
        "/mail/delete",
        data={"folder": "INBOX", "uid": message_uid, "csrf_token": token},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    response = logged_in.post(
        "/mail/delete",
        data={"folder": "INBOX", "uid": message_uid, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert logged_in.get("/mail").context["page"].total == 1


def test_token_in_the_htmx_header_works(logged_in: TestClient, message_uid: int) -> None:
    response = logged_in.post(
        "/mail/flag",
        data={"folder": "INBOX", "uid": message_uid, "flag": "flagged", "value": "1"},
        headers={"X-CSRF-Token": csrf_token(logged_in), "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303
    assert logged_in.get("/mail").context["page"].messages[0].flagged


def test_logout_without_token_does_not_log_out(logged_in: TestClient) -> None:
    logged_in.post("/logout", data={})
    assert logged_in.get("/mail").status_code == 200
