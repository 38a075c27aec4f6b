"""Session store rules on the real Redis, with timeouts short enough to wait for."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from webmail.auth import sessions
from webmail.auth.sessions import SessionCookie, SessionStore


@pytest.fixture
def redis_url(env: dict[str, str]) -> str:
    return env["MSS_REDIS_URL"]


async def with_store(redis_url: str, idle: int, absolute: int, test: object) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await test(SessionStore(redis, idle, absolute))  # type: ignore[operator]
    finally:
        await redis.aclose()


def test_idle_timeout(redis_url: str) -> None:
    async def scenario(store: SessionStore) -> None:
        cookie, _ = await store.create("a@medecin.mssante.test", "secret-password")
        assert await store.load(cookie) is not None
        await asyncio.sleep(1.3)
        assert await store.load(cookie) is None

    asyncio.run(with_store(redis_url, 1, 3600, scenario))


def test_absolute_timeout_despite_activity(redis_url: str) -> None:
    async def scenario(store: SessionStore) -> None:
        cookie, _ = await store.create("a@medecin.mssante.test", "secret-password")
        for _ in range(4):
            await asyncio.sleep(0.4)
            assert await store.load(cookie) is not None  # activity keeps the idle clock fresh
        await asyncio.sleep(0.6)
        assert await store.load(cookie) is None

    asyncio.run(with_store(redis_url, 60, 2, scenario))


def test_session_is_json_and_password_needs_the_cookie(redis_url: str) -> None:
    async def scenario(store: SessionStore) -> None:
        cookie, session = await store.create("a@medecin.mssante.test", "secret-password")
        raw = await store.redis.get("mss:session:" + cookie.id_hash)
        data = json.loads(raw)
        assert data["user"] == "a@medecin.mssante.test"
        assert "secret-password" not in raw.decode()
        assert store.password(session, cookie) == "secret-password"
        stranger = SessionCookie(session_id=cookie.session_id, key=bytes(32))
        assert store.password(session, stranger) is None

    asyncio.run(with_store(redis_url, 60, 3600, scenario))


def test_garbage_in_redis_is_a_logged_out_session(redis_url: str) -> None:
    async def scenario(store: SessionStore) -> None:
        cookie = SessionCookie.new()
        await store.redis.set("mss:session:" + cookie.id_hash, b"\x80\x04pickle?")
        assert await store.load(cookie) is None

    asyncio.run(with_store(redis_url, 60, 3600, scenario))


@pytest.mark.parametrize("value", ["", "x", "a.b", "a" * 40 + ".", "." * 3, "a" * 300])
def test_malformed_cookies_are_ignored(value: str) -> None:
    assert SessionCookie.decode(value) is None


def test_password_only_session_ends_on_time_however_busy(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five minutes from the password step (here 2 s), not five minutes of idleness."""
    monkeypatch.setattr(sessions, "PENDING_SECONDS", 2)

    async def scenario(store: SessionStore) -> None:
        cookie, _ = await store.create("a@medecin.mssante.test", "pw", stage="password")
        ttl = await store.redis.pttl("mss:session:" + cookie.id_hash)
        assert 0 < ttl <= 2000
        for _ in range(3):
            await asyncio.sleep(0.6)
            session = await store.load(cookie)  # a request every 0.6 s keeps nothing alive
            assert session is not None
            session.pending_secret = "x"
            await store.save(session)  # nor does saving it
            assert await store.redis.pttl("mss:session:" + cookie.id_hash) <= 2000 - 600
        await asyncio.sleep(0.4)
        assert await store.load(cookie) is None

    asyncio.run(with_store(redis_url, 60, 3600, scenario))
