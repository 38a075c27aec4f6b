"""Ending a session ends it in every process: two app instances sharing Redis, real Dovecot.

Each instance runs in this event loop behind its own uvicorn, so the test can look at what
each one's pool holds; Dovecot's ``doveadm who`` says what the server still has open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import httpx2
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.auth.live import serve_app
from tests.conftest import MailUser, login, soup
from tests.mail.test_watch import imap_sessions, wait_for_sessions
from tests.test_redis_restart import persistent_redis  # noqa: F401  (a fixture)
from tests.views.test_events import FAST, Stream, stream
from webmail.app import create_app
from webmail.auth.reset import reset
from webmail.auth.sessions import SessionCookie
from webmail.mail import broadcast
from webmail.mail.broadcast import SessionEnds
from webmail.mail.connections import ConnectionPool
from webmail.settings import Settings

# Ending is told to the other process within this (the target is "at once", about a second).
AT_ONCE = 1.0


@dataclass
class Instance:
    app: Starlette
    url: str

    @property
    def pool(self) -> ConnectionPool:
        pool = self.app.state.services.pool
        assert isinstance(pool, ConnectionPool)
        return pool

    @property
    def ends(self) -> SessionEnds:
        ends = self.app.state.services.broadcast
        assert isinstance(ends, SessionEnds)
        return ends

    def holds(self, key: str) -> bool:
        return key in self.pool.sessions()


@contextlib.asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[Instance]:
    app = create_app(settings)
    async with serve_app(app) as url:
        yield Instance(app, url)


@pytest.fixture
def fast(env: dict[str, str]) -> Settings:
    # Quick watchers, but a slow heartbeat: a stream must not learn of the end by its own
    # check of the session, only by the broadcast.
    return Settings.from_env({**env, **FAST, "MSS_LIVE_HEARTBEAT_SECONDS": "60"})


@dataclass
class SignedIn:
    """A session made through the login pages (on a third instance), and its cookie."""

    client: TestClient
    cookies: dict[str, str]

    @property
    def key(self) -> str:
        cookie = SessionCookie.decode(next(iter(self.cookies.values())))
        assert cookie is not None
        return cookie.id_hash


@contextlib.contextmanager
def signed_in(settings: Settings, user: MailUser) -> Iterator[SignedIn]:
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        login(client, user)
        yield SignedIn(client, dict(client.cookies))


@contextlib.asynccontextmanager
async def browser(where: Instance, session: SignedIn) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=where.url, cookies=session.cookies, timeout=30) as http:
        yield http


async def wait_until(condition: Callable[[], bool], seconds: float) -> float:
    """Poll ``condition()`` until true; how long it took (fails past ``seconds``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():
        assert loop.time() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.02)
    return loop.time() - started


async def ended(events: Stream) -> None:
    """The page is told its session ended, then its stream closes."""
    assert await events.until("reload", seconds=3) == {}
    assert await events.next(seconds=3) == ("", {})


async def post(http: httpx2.AsyncClient, path: str, **data: str) -> int:
    """A form of the mailbox page sent with the session's token, as the page would."""
    field = soup((await http.get("/mail")).text).select_one(
        "form[action='/logout'] input[name=csrf_token]"
    )
    assert field is not None
    answer = await http.post(path, data={"csrf_token": str(field["value"]), **data})
    return answer.status_code


def connections_held(*instances: Instance) -> int:
    return sum(where.pool.open_connections() for where in instances)


async def test_logout_on_one_instance_closes_the_session_on_the_other_at_once(
    fast: Settings, stack: Stack, user: MailUser
) -> None:
    with signed_in(fast, user) as session:
        async with (
            instance(fast) as a,
            instance(fast) as b,
            browser(a, session) as on_a,
            browser(b, session) as on_b,
        ):
            assert (await on_a.get("/mail")).status_code == 200
            assert (await on_b.get("/mail")).status_code == 200
            async with stream(on_b) as events:
                await events.until("unread")
                # Each instance's own connection, and b's watcher in IDLE.
                assert await wait_for_sessions(stack, user, 3) == 3
                assert await post(on_a, "/logout") == 303
                took = await wait_until(lambda: not b.holds(session.key), AT_ONCE)
                assert took < AT_ONCE
                assert not a.holds(session.key)
                await ended(events)
            assert await wait_for_sessions(stack, user, 0, seconds=AT_ONCE + 1) == 0
            # And the cookie opens nothing anywhere.
            assert (await on_b.get("/mail")).status_code in (302, 303)


async def test_ending_the_other_sessions_closes_them_in_every_instance(
    fast: Settings, stack: Stack, user: MailUser
) -> None:
    with signed_in(fast, user) as mine, signed_in(fast, user) as other:
        async with (
            instance(fast) as a,
            instance(fast) as b,
            browser(a, mine) as my_page,
            browser(b, other) as other_page,
            browser(a, other) as other_on_a,
        ):
            assert (await my_page.get("/mail")).status_code == 200
            assert (await other_on_a.get("/mail")).status_code == 200
            async with stream(other_page) as events:
                await events.until("unread")
                assert await post(my_page, "/account/sessions/end", session="others") == 303
                await wait_until(lambda: not b.holds(other.key), AT_ONCE)
                assert not a.holds(other.key)
                await ended(events)
            # Mine goes on, on its own connection; the server has no other left.
            assert a.holds(mine.key)
            assert (await my_page.get("/mail")).status_code == 200
            assert connections_held(a, b) == 1
            assert await wait_for_sessions(stack, user, 1) == 1


async def test_an_instance_that_missed_the_message_refuses_the_session_and_closes(
    fast: Settings, stack: Stack, user: MailUser
) -> None:
    with signed_in(fast, user) as session:
        async with (
            instance(fast) as a,
            instance(fast) as b,
            browser(a, session) as on_a,
            browser(b, session) as on_b,
        ):
            assert (await on_b.get("/mail")).status_code == 200
            await b.ends.stop()  # as if b were not listening when the message went out
            assert await post(on_a, "/logout") == 303
            await asyncio.sleep(AT_ONCE)
            assert b.holds(session.key)  # nobody told b...
            assert imap_sessions(stack, user) == 1
            # ...but its next request finds the session gone: refused, and the connection
            # is logged out there and then.
            assert (await on_b.get("/mail")).status_code in (302, 303)
            assert not b.holds(session.key)
            assert await wait_for_sessions(stack, user, 0) == 0
            assert not a.holds(session.key)


async def test_rejoining_the_channel_closes_what_was_missed_meanwhile(
    fast: Settings, stack: Stack, user: MailUser
) -> None:
    with signed_in(fast, user) as session, signed_in(fast, user) as kept:
        async with (
            instance(fast) as a,
            instance(fast) as b,
            browser(a, session) as on_a,
            browser(b, session) as on_b,
            browser(b, kept) as kept_on_b,
        ):
            assert (await on_b.get("/mail")).status_code == 200
            assert (await kept_on_b.get("/mail")).status_code == 200
            await b.ends.stop()
            assert await post(on_a, "/logout") == 303
            joined = b.ends.joined
            b.ends.start()  # back on the channel: it checks what it holds against Redis
            await wait_until(lambda: b.ends.joined > joined, 3)
            await wait_until(lambda: not b.holds(session.key), AT_ONCE)
            assert b.holds(kept.key)  # a live session is left alone
            assert await wait_for_sessions(stack, user, 1) == 1


@pytest.mark.usefixtures("persistent_redis")
async def test_the_listener_survives_a_redis_restart(
    fast: Settings, stack: Stack, user: MailUser
) -> None:
    with signed_in(fast, user) as session:
        async with (
            instance(fast) as a,
            instance(fast) as b,
            browser(a, session) as on_a,
            browser(b, session) as on_b,
        ):
            assert (await on_b.get("/mail")).status_code == 200
            joined = b.ends.joined
            await asyncio.to_thread(stack.stop_redis)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(stack.start_redis)
            await wait_until(lambda: b.ends.joined > joined, 10)
            # Nothing else lost: the session (Redis kept it) and b's connection go on.
            assert b.holds(session.key)
            assert (await on_b.get("/mail")).status_code == 200
            assert (await on_a.get("/mail")).status_code == 200
            # And ending it after the restart still reaches b at once.
            assert await post(on_a, "/logout") == 303
            await wait_until(lambda: not b.holds(session.key), AT_ONCE)
            assert await wait_for_sessions(stack, user, 0) == 0


async def test_a_broadcast_of_unknown_or_hostile_ids_closes_nothing_else(
    fast: Settings, stack: Stack, user: MailUser
) -> None:
    with signed_in(fast, user) as session:
        async with instance(fast) as b, browser(b, session) as on_b:
            assert (await on_b.get("/mail")).status_code == 200
            await b.ends.publish(["nope", "x" * 5000, "\x00 \r\n *"])
            await b.ends.redis.publish("mss:sessions:ended", b"\xff\xfe")
            await asyncio.sleep(0.5)
            assert b.holds(session.key)
            assert (await on_b.get("/mail")).status_code == 200
            # The listener took all that and still hears the next real message.
            await b.ends.publish([session.key])
            await wait_until(lambda: not b.holds(session.key), AT_ONCE)


async def test_an_account_reset_ends_its_sessions_in_every_instance(
    fast: Settings, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    with signed_in(fast, user) as session, signed_in(fast, other_user) as someone_else:
        async with (
            instance(fast) as b,
            browser(b, session) as on_b,
            browser(b, someone_else) as other_on_b,
        ):
            assert (await on_b.get("/mail")).status_code == 200
            assert (await other_on_b.get("/mail")).status_code == 200
            await reset(fast, [user.address])  # the operator's command, from elsewhere
            await wait_until(lambda: not b.holds(session.key), AT_ONCE)
            assert (await on_b.get("/mail")).status_code in (302, 303)
            assert await wait_for_sessions(stack, user, 0) == 0
            assert b.holds(someone_else.key)  # another account is left alone
            assert (await other_on_b.get("/mail")).status_code == 200


async def test_a_shutdown_is_not_held_up_by_a_close_that_swallows_the_cancel(
    settings: Settings,
) -> None:
    closing = asyncio.Event()

    async def stubborn(session_id: str) -> None:
        closing.set()
        with contextlib.suppress(asyncio.CancelledError):  # as asyncio.wait_for may do
            await asyncio.sleep(30)

    redis = Redis.from_url(settings.redis_url)
    ends = SessionEnds(redis, stubborn, list)
    try:
        ends.start()
        task = ends._task
        assert task is not None
        await wait_until(lambda: ends.joined == 1, 3)
        await ends.publish(["some-session"])
        await asyncio.wait_for(closing.wait(), 3)
        await asyncio.wait_for(ends.stop(), broadcast.STOP_SECONDS + 1)  # bounded
        # The listener sees it is stopping and ends by itself right after.
        await wait_until(task.done, broadcast.READ_SECONDS + 1)
    finally:
        await redis.aclose()
