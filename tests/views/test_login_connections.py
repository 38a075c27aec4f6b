"""The password step and the server's connection limit (Dovecot: 10 per user and address)."""

from __future__ import annotations

import imaplib

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, imap_for, login, post_password, soup

DOVECOT_LIMIT = 10  # mail_max_userip_connections in dev/conf/dovecot.conf


def test_password_only_sessions_hold_no_imap_connection(
    client: TestClient, stack: Stack, user: MailUser
) -> None:
    for _ in range(DOVECOT_LIMIT + 2):
        answer = post_password(client, user.address, user.password)
        assert answer.status_code == 303, answer.text
    # A dozen sessions stopped at the second factor: the mailbox still accepts connections,
    # so the real user's next login is not refused as a wrong password.
    probe = imap_for(stack, user)
    probe.logout()
    login(client, user)
    assert client.get("/mail").status_code == 200


def test_connection_limit_is_not_a_wrong_password(
    client: TestClient, stack: Stack, user: MailUser
) -> None:
    held: list[imaplib.IMAP4] = [imap_for(stack, user) for _ in range(DOVECOT_LIMIT)]
    try:
        # More attempts than the lock allows: none may count, none may say "incorrect".
        for _ in range(7):
            answer = post_password(client, user.address, user.password)
            assert answer.status_code == 503, answer.text
            alert = soup(answer.text).find(attrs={"role": "alert"}).get_text()
            assert "Trop de connexions" in alert
            assert "incorrect" not in alert
    finally:
        for connection in held:
            connection.logout()
    answer = post_password(client, user.address, user.password)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login/otp"


def test_wrong_password_is_still_counted_while_at_the_limit(
    client: TestClient, stack: Stack, user: MailUser
) -> None:
    held = [imap_for(stack, user) for _ in range(DOVECOT_LIMIT)]
    try:
        # Dovecot checks the password before the limit: a wrong one is still a wrong one.
        answer = post_password(client, user.address, "not-the-password")
    finally:
        for connection in held:
            connection.logout()
    assert answer.status_code == 401
    assert "incorrect" in soup(answer.text).find(attrs={"role": "alert"}).get_text()


def test_connection_limit_after_sign_in_says_so(
    client: TestClient, stack: Stack, user: MailUser
) -> None:
    login(client, user)  # both factors, and no IMAP connection held yet
    held = [imap_for(stack, user) for _ in range(DOVECOT_LIMIT)]
    try:
        page = client.get("/mail")
    finally:
        for connection in held:
            connection.logout()
    assert page.status_code == 503
    assert "Trop de connexions" in soup(page.text).get_text()
    assert client.get("/mail").status_code == 200  # and the mailbox opens once they are closed
