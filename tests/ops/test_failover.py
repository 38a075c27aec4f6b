"""Redis Sentinel: the primary fails over while a signed-in user keeps working.

A primary, a replica and three sentinels (dev/sentinel.py); the webmail finds the primary
through the sentinels. Sessions live on (the replica had them), a send is delivered once, and
no request ever gets a 500.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from dev.sentinel import SERVICE, SentinelGroup
from dev.stack import LOOPBACK, Stack
from tests.conftest import (
    TEST_BASE_PORT,
    MailUser,
    csrf_token,
    login,
    soup,
    wait_for_messages,
)
from webmail.app import create_app
from webmail.settings import Settings


@pytest.fixture(scope="module")
def group() -> Iterator[SentinelGroup]:
    state = Path(tempfile.mkdtemp(prefix="mss-test-sentinel-"))
    sentinels = SentinelGroup(state_dir=state, base_port=TEST_BASE_PORT)
    sentinels.start()
    try:
        yield sentinels
    finally:
        sentinels.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def sentinel_client(env: dict[str, str], group: SentinelGroup) -> Iterator[TestClient]:
    settings = Settings.from_env(
        {
            **env,
            "MSS_REDIS_URL": "redis://127.0.0.1:1/0",  # never used with sentinels
            "MSS_REDIS_SENTINELS": group.sentinels_setting,
            "MSS_REDIS_SENTINEL_SERVICE": SERVICE,
        }
    )
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        yield client


def replicated(group: SentinelGroup) -> None:
    """Wait until the replica has every write of the primary (what WAIT 1 would ensure)."""
    primary = redis.Redis(host=LOOPBACK, port=group.primary(), decode_responses=True)
    try:
        # After an earlier failover the old primary needs a moment to become a replica.
        deadline = time.monotonic() + 20
        while primary.execute_command("WAIT", 1, 1000) != 1:
            assert time.monotonic() < deadline, "the replica never caught up"
    finally:
        primary.close()


def explained(html: str) -> str:
    """What the error page or the form given back says."""
    page = soup(html)
    found = page.select_one("main.error-page p") or page.find(attrs={"role": "alert"})
    assert found is not None, html
    return str(found.get_text())


def failures(responses: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    return [r for r in responses if r[1] not in (200, 303)]


def test_sessions_survive_a_failover_and_a_send_is_delivered_once(
    sentinel_client: TestClient,
    group: SentinelGroup,
    stack: Stack,
    user: MailUser,
    other_user: MailUser,
) -> None:
    login(sentinel_client, user)
    before = group.primary()
    data = {
        "csrf_token": csrf_token(sentinel_client),
        "mode": "new",
        "action": "send",
        "to": other_user.address,
        "subject": "Pendant la bascule",
        "body": "Compte rendu",
    }
    replicated(group)
    assert group.failover() != before
    seen = []
    for method, path in [
        ("GET", "/mail"),
        ("POST", "/compose"),
        ("GET", "/compose"),
        ("GET", "/account"),
        ("GET", "/mail"),
    ]:
        response = (
            sentinel_client.post(path, data=data) if method == "POST" else sentinel_client.get(path)
        )
        seen.append((path, response.status_code, response.text))
    # The retry on a new connection covers the switch: at most one request sees it.
    failed = failures(seen)
    assert len(failed) <= 1, [(p, s) for p, s, _ in failed]
    for _path, status, text in failed:
        assert status == 503
        assert "momentanément indisponible" in explained(text)
    # Still signed in: the session was on the replica that is now the primary.
    assert seen[-1][1] == 200 and soup(seen[-1][2]).select_one("form[action='/logout']")
    if not any(path == "/compose" and status == 503 for path, status, _ in failed):
        assert len(wait_for_messages(stack, other_user)) == 1
        time.sleep(1)  # a second copy would have arrived by now
        assert len(wait_for_messages(stack, other_user)) == 1


def test_primary_killed_gives_503_never_500_then_the_session_goes_on(
    sentinel_client: TestClient, group: SentinelGroup, user: MailUser
) -> None:
    login(sentinel_client, user)
    replicated(group)
    old = group.primary()
    group.stop_server(old)
    statuses = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = sentinel_client.get("/mail")
        statuses.append(response.status_code)
        if response.status_code == 200 and group.primary() != old:
            break
        assert response.status_code == 503, response.text
        assert "momentanément indisponible" in explained(response.text)
        time.sleep(0.5)
    assert statuses[-1] == 200, statuses
    assert group.primary() != old
    # The old primary comes back as a replica of the new one, as sentinels arrange.
    group.restart_server(old)
    assert sentinel_client.get("/account").status_code == 200
