"""IMAP connections are bounded: per user across instances (Redis slots) and per process."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from redis.asyncio import Redis
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, login, new_user, soup
from webmail.app import create_app
from webmail.failures import described
from webmail.mail.connection_limits import (
    ConnectionLimits,
    UserSlots,
    WebmailConnectionLimit,
)
from webmail.mail.connections import ConnectionPool
from webmail.settings import Settings


def instance(settings: Settings) -> TestClient:
    return TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    )


@pytest.fixture
def one_per_user(settings: Settings) -> Settings:
    return dataclasses.replace(settings, connection_limits=ConnectionLimits(per_user=1))


def error_text(html: str) -> str:
    return str(soup(html).select_one("main.error-page p").get_text())


def test_a_users_share_is_counted_across_instances(one_per_user: Settings, user: MailUser) -> None:
    with instance(one_per_user) as first, instance(one_per_user) as second:
        login(first, user)
        login(second, user)
        assert first.get("/mail").status_code == 200
        # The other instance sees the connection the first one holds.
        refused = second.get("/mail")
        assert refused.status_code == 503
        assert "Trop de connexions" in error_text(refused.text)
        # Logging out gives the slot back: the other instance can now connect.
        first.post("/logout", data={"csrf_token": csrf(first)})
        assert second.get("/mail").status_code == 200


def csrf(client: TestClient) -> str:
    field = soup(client.get("/mail").text).select_one(
        "form[action='/logout'] input[name=csrf_token]"
    )
    assert field is not None
    return str(field["value"])


def test_a_crashed_instances_slots_free_themselves(settings: Settings) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(settings.redis_url)
        try:
            slots = UserSlots(redis, limit=1, ttl_seconds=1)
            assert await slots.take("crash@example.org", "instance-a")
            assert not await slots.take("crash@example.org", "instance-b")
            # The same holder reconnecting keeps its slot rather than needing another.
            assert await slots.take("crash@example.org", "instance-a")
            await asyncio.sleep(1.2)  # instance-a died without giving its slot back
            assert await slots.take("crash@example.org", "instance-b")
            assert await slots.count("crash@example.org") == 1
        finally:
            await redis.aclose()

    asyncio.run(scenario())


def test_the_process_cap_closes_an_idle_connection_or_says_too_many(
    settings: Settings, stack: Stack
) -> None:
    capped = dataclasses.replace(settings, connection_limits=ConnectionLimits(per_process=1))
    first, second = new_user(stack), new_user(stack)

    async def scenario() -> None:
        pool = ConnectionPool(capped)
        try:
            async with pool.use("a", first.address, first.password):
                # Busy, so not closed for someone else: the second gets a clear refusal.
                with pytest.raises(WebmailConnectionLimit):
                    async with pool.use("b", second.address, second.password):
                        pass
            assert pool.open_connections() == 1
            # Now idle: the least recently used one makes room.
            async with pool.use("b", second.address, second.password) as mail:
                assert mail.user == second.address
            assert pool.open_connections() == 1
        finally:
            await pool.close_all()

    asyncio.run(scenario())
    error = described(WebmailConnectionLimit("cap"))
    assert error.status == 503 and "trop de connexions" in str(error.message)
