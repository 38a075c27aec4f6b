"""Redis restarts with its data (AOF, as deployed): sessions carry on, nothing typed is lost."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import (
    MailUser,
    csrf_token,
    form_value,
    login,
    soup,
    wait_for_messages,
)
from webmail.views import sending as sending_view


@pytest.fixture
def persistent_redis(stack: Stack) -> Iterator[None]:
    """The test Redis with its append-only file, like a deployment's; back to none after."""
    stack.redis_persistent = True
    stack.start_redis()
    try:
        yield
    finally:
        stack.redis_persistent = False
        stack.stop_redis()
        shutil.rmtree(stack.state_dir / "redis" / "appendonlydir", ignore_errors=True)
        stack.start_redis()


@pytest.fixture
def writer(persistent_redis: None, client: TestClient, user: MailUser) -> TestClient:
    login(client, user)
    return client


def compose_data(client: TestClient, to: str, subject: str, body: str) -> dict[str, str]:
    return {
        "csrf_token": csrf_token(client),
        "mode": "new",
        "action": "send",
        "to": to,
        "subject": subject,
        "body": body,
    }


def test_next_page_loads_after_a_redis_restart(writer: TestClient, stack: Stack) -> None:
    assert writer.get("/mail").status_code == 200
    stack.stop_redis()
    stack.start_redis()
    for path in ("/mail", "/compose", "/account"):
        response = writer.get(path)
        assert response.status_code == 200, (path, response.text)


def test_send_after_a_redis_restart_delivers_once(
    writer: TestClient, stack: Stack, other_user: MailUser
) -> None:
    data = compose_data(writer, other_user.address, "Après redémarrage", "Texte")
    stack.stop_redis()
    stack.start_redis()
    response = writer.post("/compose", data=data)
    assert response.status_code == 303, response.text
    assert len(wait_for_messages(stack, other_user)) == 1
    time.sleep(1)  # a second copy would have arrived by now
    assert len(wait_for_messages(stack, other_user)) == 1


def test_redis_down_gives_the_text_back_then_it_can_be_sent(
    writer: TestClient, stack: Stack, other_user: MailUser
) -> None:
    data = compose_data(writer, other_user.address, "Pendant la panne Redis", "Long texte")
    data["cc"] = "cc@chu-demo.mssante.test"
    stack.stop_redis()
    try:
        down = writer.post("/compose", data=data)
    finally:
        stack.start_redis()
    assert down.status_code == 503
    page = soup(down.text)
    alert = page.find(attrs={"role": "alert"}).get_text()
    assert "sessions" in alert and "indisponible" in alert
    assert "pas parti" in page.select_one("p.note").get_text()
    assert page.find("textarea").get_text() == "Long texte"
    kept = {name: form_value(down.text, name) for name in ("to", "cc", "subject", "csrf_token")}
    assert kept == {
        "to": other_user.address,
        "cc": "cc@chu-demo.mssante.test",
        "subject": "Pendant la panne Redis",
        "csrf_token": data["csrf_token"],
    }
    # Redis is back: the form given back sends as it is.
    again = {**data, "cc": "", "body": page.find("textarea").get_text()}
    assert writer.post("/compose", data=again).status_code == 303
    assert len(wait_for_messages(stack, other_user)) == 1


def test_unexpected_failure_while_sending_gives_the_text_back(
    logged_in: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("détail interne à ne pas montrer")

    monkeypatch.setattr(sending_view, "_transmit", broken)
    response = logged_in.post(
        "/compose", data=compose_data(logged_in, "a@chu-demo.mssante.test", "Objet", "Mon texte")
    )
    assert response.status_code == 500
    page = soup(response.text)
    assert page.find("textarea").get_text() == "Mon texte"
    assert form_value(response.text, "subject") == "Objet"
    # It may have failed after the server took the message: the page must not say otherwise.
    assert "Envoyés" in page.select_one("p.note").get_text()
    assert "interne" not in response.text and "Traceback" not in response.text
    assert response.headers["content-security-policy"]
