"""/mail/events on the app served by uvicorn: real HTTP streams, real Dovecot and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx2
import pytest
from redis.asyncio import Redis
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.auth.live import serve
from tests.conftest import MailUser, csrf_token, deliver, login, simple_mail
from tests.mail.test_watch import wait_for_sessions
from webmail.app import create_app
from webmail.auth.sessions import KEY_PREFIX, SessionCookie
from webmail.settings import Settings

FAST = {
    "MSS_LIVE_HEARTBEAT_SECONDS": "1",
    "MSS_LIVE_GRACE_SECONDS": "1",
    "MSS_LIVE_POLL_SECONDS": "1",
}


def live_settings(env: dict[str, str], **more: str) -> Settings:
    return Settings.from_env({**env, **FAST, **more})


def signed_in(settings: Settings, user: MailUser) -> tuple[TestClient, dict[str, str]]:
    """A session made through the login pages of another app instance; its cookie."""
    client = TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    )
    client.__enter__()
    login(client, user)
    return client, dict(client.cookies)


class Stream:
    """One open page's event stream, read event by event."""

    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def next(self, seconds: float = 8) -> tuple[str, dict[str, int]]:
        """The next event (heartbeats skipped): its name and data."""
        name, data = "", ""
        async with asyncio.timeout(seconds):
            async for line in self.lines:
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and name:
                    return name, json.loads(data)
        return "", {}  # the stream ended

    async def until(self, wanted: str, seconds: float = 8) -> dict[str, int]:
        async with asyncio.timeout(seconds):
            while True:
                name, data = await self.next(seconds)
                if name == wanted:
                    return data
                assert name, f"the stream ended before a {wanted!r} event"


@contextlib.asynccontextmanager
async def stream(http: httpx2.AsyncClient, folder: str = "INBOX") -> AsyncIterator[Stream]:
    async with http.stream("GET", "/mail/events", params={"folder": folder}) as response:
        assert response.status_code == 200, await response.aread()
        yield Stream(response)


@contextlib.asynccontextmanager
async def browser(base_url: str, cookies: dict[str, str]) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=base_url, cookies=cookies, timeout=30) as http:
        yield http


async def test_mail_delivered_during_the_stream_is_told_within_seconds(
    env: dict[str, str], stack: Stack, user: MailUser
) -> None:
    settings = live_settings(env)
    client, cookies = signed_in(settings, user)
    async with serve(settings) as url, browser(url, cookies) as http, stream(http) as events:
        headers = events.response.headers
        assert headers["content-type"].startswith("text/event-stream")
        assert headers["cache-control"] == "no-store"
        assert headers["x-accel-buffering"] == "no"
        assert await events.until("unread") == {"unseen": 0}  # the state when the page opened
        assert await wait_for_sessions(stack, user, 2) == 2  # the session's own and the watcher
        loop = asyncio.get_running_loop()
        started = loop.time()
        mail = simple_mail("secretariat@chu-demo.mssante.test", user.address, "Compte rendu")
        await asyncio.to_thread(deliver, stack, user, mail)
        assert await events.until("mail") == {"unseen": 1}
        assert loop.time() - started < 4
    client.__exit__(None, None, None)


async def test_the_watcher_goes_when_the_page_closes(
    env: dict[str, str], stack: Stack, user: MailUser
) -> None:
    settings = live_settings(env)
    client, cookies = signed_in(settings, user)
    async with serve(settings) as url, browser(url, cookies) as http:
        async with stream(http) as events:
            await events.until("unread")
            assert await wait_for_sessions(stack, user, 2) == 2
        # The page is gone: after the grace, the watcher's connection is logged out.
        assert await wait_for_sessions(stack, user, 1) == 1
    client.__exit__(None, None, None)


async def test_ten_tabs_of_one_session_share_one_watcher(
    env: dict[str, str], stack: Stack, user: MailUser
) -> None:
    settings = live_settings(env)
    client, cookies = signed_in(settings, user)
    async with serve(settings) as url, browser(url, cookies) as http:
        async with contextlib.AsyncExitStack() as tabs:
            streams = [await tabs.enter_async_context(stream(http)) for _ in range(10)]
            await asyncio.gather(*(tab.until("unread") for tab in streams))
            assert await wait_for_sessions(stack, user, 2) == 2
            await asyncio.sleep(1)
            assert await wait_for_sessions(stack, user, 2) == 2  # and no more, later
            mail = simple_mail("a@chu-demo.mssante.test", user.address, "Résultats")
            await asyncio.to_thread(deliver, stack, user, mail)
            told = await asyncio.gather(*(tab.until("mail") for tab in streams))
            assert told == [{"unseen": 1}] * 10
        assert await wait_for_sessions(stack, user, 1) == 1
    client.__exit__(None, None, None)


async def test_the_account_budget_holds_across_two_instances(
    env: dict[str, str], stack: Stack, user: MailUser
) -> None:
    settings = live_settings(env, MSS_LIVE_WATCHERS_PER_USER="1")
    first_client, first = signed_in(settings, user)
    second_client, second = signed_in(settings, user)
    async with (
        serve(settings) as url_a,
        serve(settings) as url_b,
        browser(url_a, first) as http_a,
        browser(url_b, second) as http_b,
        stream(http_a) as on_a,
    ):
        await on_a.until("unread")
        assert await wait_for_sessions(stack, user, 2) == 2
        async with stream(http_b) as on_b:
            await on_b.until("unread")
            # Two sessions' own connections and one watcher: the second session polls.
            assert await wait_for_sessions(stack, user, 3) == 3
            await asyncio.sleep(1.5)
            assert await wait_for_sessions(stack, user, 3) == 3
            mail = simple_mail("a@chu-demo.mssante.test", user.address, "Ordonnance")
            await asyncio.to_thread(deliver, stack, user, mail)
            assert await on_a.until("mail") == {"unseen": 1}
            assert await on_b.until("mail") == {"unseen": 1}
    first_client.__exit__(None, None, None)
    second_client.__exit__(None, None, None)


@pytest.mark.parametrize("idle", ["false"])
async def test_without_idle_the_page_is_told_by_polling(
    env: dict[str, str], stack: Stack, user: MailUser, idle: str
) -> None:
    settings = live_settings(env, MSS_LIVE_IDLE=idle)
    client, cookies = signed_in(settings, user)
    async with serve(settings) as url, browser(url, cookies) as http, stream(http) as events:
        await events.until("unread")
        await asyncio.sleep(1.5)
        assert await wait_for_sessions(stack, user, 1) == 1  # no second connection
        mail = simple_mail("a@chu-demo.mssante.test", user.address, "Bilan")
        await asyncio.to_thread(deliver, stack, user, mail)
        assert await events.until("mail", seconds=5) == {"unseen": 1}
    client.__exit__(None, None, None)


async def test_an_expired_session_ends_the_stream(
    env: dict[str, str], stack: Stack, user: MailUser
) -> None:
    settings = live_settings(env)
    client, cookies = signed_in(settings, user)
    cookie = SessionCookie.decode(next(iter(cookies.values())))
    assert cookie is not None
    async with serve(settings) as url, browser(url, cookies) as http, stream(http) as events:
        await events.until("unread")
        redis = Redis.from_url(settings.redis_url)
        await redis.delete(KEY_PREFIX + cookie.id_hash)  # as the idle lock does
        await redis.aclose()
        assert await events.until("reload", seconds=4) == {}
        assert await events.next() == ("", {})  # and the stream ends
        # The watcher and the session's own connection both close: the session is over.
        assert await wait_for_sessions(stack, user, 0) == 0
    client.__exit__(None, None, None)


async def test_logout_ends_the_stream(env: dict[str, str], stack: Stack, user: MailUser) -> None:
    settings = live_settings(env)
    client, cookies = signed_in(settings, user)
    async with serve(settings) as url, browser(url, cookies) as http, stream(http) as events:
        await events.until("unread")
        token = await asyncio.to_thread(csrf_token, client)
        answer = await asyncio.to_thread(client.post, "/logout", data={"csrf_token": token})
        assert answer.status_code == 303
        assert await events.until("reload", seconds=4) == {}
    client.__exit__(None, None, None)


async def test_the_stream_needs_a_session(env: dict[str, str]) -> None:
    settings = live_settings(env)
    async with serve(settings) as url, browser(url, {}) as http:
        answer = await http.get("/mail/events")
        assert answer.status_code in (302, 303, 401)
        assert not answer.headers.get("content-type", "").startswith("text/event-stream")
