"""One token refresh at a time per Pro Santé Connect session (webmail/auth/psc_tokens.py),
against the real provider, which rotates refresh tokens and takes a reuse for a replay."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from redis.asyncio import Redis
from starlette.testclient import TestClient

from dev.psc import PscProvider
from dev.stack import Stack
from tests.auth.live import serve
from tests.conftest import MailUser
from tests.psc_browser import psc_config, psc_env, sign_in_as, tokens_for
from webmail.app import create_app
from webmail.auth import psc_tokens
from webmail.auth.oidc import PscClient, PscRefused, PscUnavailable, Tokens
from webmail.auth.sessions import SessionCookie, SessionStore
from webmail.settings import Settings

CONCURRENT = 8


@dataclass
class PscSession:
    store: SessionStore
    cookie: SessionCookie
    login: str
    first: Tokens


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    connection = Redis.from_url(f"redis://127.0.0.1:{stack.redis}/0")
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
def client(psc: PscProvider, redis: Redis) -> PscClient:
    return PscClient(psc_config(psc), redis)


@pytest.fixture
async def signed_in(psc: PscProvider, redis: Redis) -> PscSession:
    """A PSC session in Redis whose access token is due for refresh (the test provider's
    lifetime is below REFRESH_MARGIN_SECONDS)."""
    login = f"refresh-{secrets.token_hex(4)}@medecin.mssante.test"
    tokens = await tokens_for(psc, login)
    store = SessionStore(redis, idle_seconds=600, absolute_seconds=3600)
    cookie, session = await store.create(login, "")
    session.method = "psc"
    psc_tokens.seal(store, session, cookie, tokens)
    await store.save(session)
    return PscSession(store, cookie, login, tokens)


async def one_request(client: PscClient, signed_in: PscSession) -> Tokens:
    """What a request does: load the session, then make sure of its tokens."""
    session = await signed_in.store.load(signed_in.cookie)
    assert session is not None
    return await psc_tokens.fresh(client, signed_in.store, session, signed_in.cookie)


async def test_concurrent_requests_refresh_once_and_the_session_lives_on(
    psc: PscProvider, client: PscClient, signed_in: PscSession
) -> None:
    # Separate clients, as separate processes would have.
    clients = [PscClient(client.config, client._redis) for _ in range(CONCURRENT)]
    results = await asyncio.gather(*(one_request(each, signed_in) for each in clients))
    assert len({tokens.access_token for tokens in results}) == 1
    assert results[0].access_token != signed_in.first.access_token
    assert psc.grants(signed_in.login).get("refresh_token@main") == 1
    # The stored tokens are those: the next refresh works, the grant is alive.
    again = await one_request(client, signed_in)
    assert again.access_token != results[0].access_token
    assert psc.grants(signed_in.login).get("refresh_token@main") == 2


async def test_without_the_lock_the_provider_ends_the_grant(
    psc: PscProvider, client: PscClient, signed_in: PscSession
) -> None:
    """What the lock prevents: the same refresh token used twice is a replay at PSC."""
    first = await client.refresh(signed_in.first.refresh_token, signed_in.first.id_token)
    with pytest.raises(PscRefused):
        await client.refresh(signed_in.first.refresh_token, signed_in.first.id_token)
    # And the replay revoked the grant: even the new refresh token is now refused.
    with pytest.raises(PscRefused):
        await client.refresh(first.refresh_token, first.id_token)


async def test_a_refused_refresh_ends_it_for_every_waiting_request(
    psc: PscProvider, client: PscClient, signed_in: PscSession
) -> None:
    # The provider forgets the grant (as when the PSC session ends there).
    await client.refresh(signed_in.first.refresh_token, signed_in.first.id_token)
    started = time.monotonic()
    results = await asyncio.gather(
        *(one_request(client, signed_in) for _ in range(CONCURRENT)), return_exceptions=True
    )
    assert all(isinstance(result, PscRefused) for result in results), results
    assert time.monotonic() - started < 5


async def test_a_lock_left_by_a_dead_process_is_waited_for_a_bounded_time(
    psc: PscProvider, redis: Redis, signed_in: PscSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = psc_tokens.LOCK_PREFIX + signed_in.cookie.id_hash
    await signed_in.store.redis.set(key, "a-dead-process", px=60_000)
    # The wait is the provider's timeout and the slack: half a second here.
    monkeypatch.setattr(psc_tokens, "LOCK_SLACK_SECONDS", 0.0)
    client = PscClient(psc_config(psc, timeout=0.5), redis)
    started = time.monotonic()
    with pytest.raises(PscUnavailable):
        await one_request(client, signed_in)
    assert time.monotonic() - started < 2
    # Its lock is not ours to remove.
    assert await signed_in.store.redis.get(key) == b"a-dead-process"


async def test_a_lock_that_expires_is_taken_over(
    psc: PscProvider, client: PscClient, signed_in: PscSession
) -> None:
    key = psc_tokens.LOCK_PREFIX + signed_in.cookie.id_hash
    await signed_in.store.redis.set(key, "a-dead-process", px=300)
    renewed = await one_request(client, signed_in)
    assert renewed.access_token != signed_in.first.access_token
    assert psc.grants(signed_in.login).get("refresh_token@main") == 1
    assert await signed_in.store.redis.get(key) is None


async def test_two_app_instances_sharing_redis_refresh_once(
    psc: PscProvider, env: dict[str, str], user: MailUser, tmp_path: Path
) -> None:
    """Requests of one session spread over two processes (two apps, one Redis), all after
    the access token's margin: one refresh at the provider, every page served."""
    settings = Settings.from_env(psc_env(psc, env, tmp_path / "audit.log"))
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as signing_in:
        sign_in_as(signing_in, psc, user.address)
        cookie = signing_in.cookies["mss_session"]
    before = psc.grants(user.address).get("refresh_token@main", 0)
    async with serve(settings) as first, serve(settings) as second:
        browsers = [
            httpx2.AsyncClient(base_url=base, cookies={"mss_session": cookie}, timeout=30)
            for base in (first, second)
        ]
        try:
            pages = await asyncio.gather(*(browsers[n % 2].get("/mail") for n in range(CONCURRENT)))
            assert [page.status_code for page in pages] == [200] * CONCURRENT
            assert psc.grants(user.address).get("refresh_token@main", 0) == before + 1
            # Still signed in on both.
            for browser in browsers:
                assert (await browser.get("/mail")).status_code == 200
        finally:
            for browser in browsers:
                await browser.aclose()


async def test_an_older_copy_of_the_session_does_not_undo_new_tokens(
    client: PscClient, signed_in: PscSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that read the session before another refreshed its tokens resets the
    idle clock without writing its older copy over them (which would bring back a refresh
    token PSC has already replaced, and end the grant at the next refresh)."""
    store, key = signed_in.store, "mss:session:" + signed_in.cookie.id_hash
    session = await store.load(signed_in.cookie)
    assert session is not None
    session.last_seen -= 60  # due for the idle clock's reset
    await store.save(session)
    older = await store.redis.get(key)
    renewed = await psc_tokens.fresh(client, store, session, signed_in.cookie)
    # Another request read the session just before that refresh was written.
    original_get = store.redis.get

    async def read_before_the_refresh(name: str) -> bytes | None:
        return older if name == key else await original_get(name)

    monkeypatch.setattr(store.redis, "get", read_before_the_refresh)
    assert await store.load(signed_in.cookie) is not None
    monkeypatch.undo()
    latest = await store.load(signed_in.cookie)
    assert latest is not None
    tokens = psc_tokens.unseal(store, latest, signed_in.cookie)
    assert tokens is not None and tokens.refresh_token == renewed.refresh_token
