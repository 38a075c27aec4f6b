"""Servers that fail: the user gets a clear page with the right status, then things recover."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from dev.env import webmail_env
from dev.stack import Stack
from tests.conftest import MailUser, deliver, form_value, post_password, simple_mail, soup
from webmail.app import create_app
from webmail.settings import Settings


def test_dovecot_stopped_mid_session_then_back(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Avant la panne"))
    assert logged_in.get("/mail").status_code == 200
    stack.stop_dovecot()
    try:
        down = logged_in.get("/mail")
        assert down.status_code == 503
        assert "ne répond pas" in soup(down.text).find("p").get_text()
        assert "Traceback" not in down.text
        assert logged_in.get("/mail").status_code == 503  # still down, still clear
    finally:
        stack.start_dovecot()
    back = logged_in.get("/mail")
    assert back.status_code == 200
    assert [m.subject for m in back.context["page"].messages] == ["Avant la panne"]


def test_login_while_dovecot_is_down(client: TestClient, stack: Stack, user: MailUser) -> None:
    page = client.get("/login")
    stack.stop_dovecot()
    try:
        response = client.post(
            "/login",
            data={
                "address": user.address,
                "password": user.password,
                "login_token": form_value(page.text, "login_token"),
            },
        )
    finally:
        stack.start_dovecot()
    assert response.status_code == 503
    assert "injoignable" in soup(response.text).find(attrs={"role": "alert"}).get_text()


def test_redis_down_then_back_logs_out_cleanly(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    stack.stop_redis()
    try:
        down = logged_in.get("/mail")
        assert down.status_code == 503
        assert "sessions" in soup(down.text).find("p").get_text()
    finally:
        stack.start_redis()
    # The test stack's Redis keeps nothing on disk: as if Redis were lost. The session is gone,
    # and so is the second factor, which a password alone must not be able to replace.
    after = logged_in.get("/mail")
    assert after.status_code == 303
    assert after.headers["location"] == "/login?notice=expired"
    page = logged_in.get("/login")
    logged_in.post(
        "/login",
        data={
            "address": user.address,
            "password": user.password,
            "login_token": form_value(page.text, "login_token"),
        },
    )
    refused = logged_in.get("/login/otp")
    assert refused.status_code == 403
    assert "introuvable" in soup(refused.text).find("p").get_text()
    assert logged_in.get("/mail").status_code == 303


@pytest.fixture
def silent_imap_server() -> Iterator[int]:
    """A server that accepts connections and never says a word: the IMAP timeout must fire."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_imap_server_that_hangs_times_out_with_503(
    stack: Stack, user: MailUser, silent_imap_server: int
) -> None:
    env = webmail_env(stack, MSS_IMAP_PORT=str(silent_imap_server), MSS_IMAP_TIMEOUT_SECONDS="1")
    with TestClient(create_app(Settings.from_env(env)), follow_redirects=False) as client:
        response = post_password(client, user.address, user.password)
    assert response.status_code == 503


def test_tls_to_a_server_with_an_untrusted_certificate_is_refused(
    stack: Stack, user: MailUser
) -> None:
    env = webmail_env(stack)
    del env["MSS_CA_BUNDLE"]  # the system store does not know the test CA, as with IGC-Santé
    with TestClient(create_app(Settings.from_env(env)), follow_redirects=False) as client:
        response = post_password(client, user.address, user.password)
    assert response.status_code == 503
