"""IDLE on the real Dovecot, and the watcher leases counted in the real Redis."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time

from redis.asyncio import Redis

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail
from tests.other_servers import connected
from webmail.mail.watch import WatcherLeases


def imap_sessions(stack: Stack, user: MailUser) -> int:
    """How many IMAP connections Dovecot has open for ``user`` right now."""
    listed = subprocess.run(
        ["doveadm", "-c", str(stack._dovecot_conf), "who", "-1", user.address],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return sum(1 for line in listed.splitlines() if line.split()[:2] == [user.address, "imap"])


async def wait_for_sessions(stack: Stack, user: MailUser, count: int, seconds: float = 8) -> int:
    """Poll until Dovecot shows ``count`` connections of ``user`` (or the time is up)."""
    deadline = time.monotonic() + seconds
    while (found := imap_sessions(stack, user)) != count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return found


def direct(stack: Stack, user: MailUser) -> connected:  # type: ignore[valid-type]
    return connected(stack.imap_host, stack.imap, str(stack.ca_cert), user.address, user.password)


async def test_idle_wakes_up_when_mail_arrives(stack: Stack, user: MailUser) -> None:
    async with direct(stack, user) as imap:
        await imap.select("INBOX")
        started = time.monotonic()
        waiting = asyncio.create_task(imap.idle(20, asyncio.Event()))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(deliver, stack, user, simple_mail("a@b.test", user.address, "x"))
        assert await waiting is True
        assert time.monotonic() - started < 5
        # The connection is usable again after DONE.
        assert await imap.counts("INBOX") == (1, 1, 2)


async def test_idle_ends_quietly_after_its_time(stack: Stack, user: MailUser) -> None:
    async with direct(stack, user) as imap:
        await imap.select("INBOX")
        assert await imap.idle(0.5, asyncio.Event()) is False
        assert await imap.idle(0.5, asyncio.Event()) is False  # and can be issued again
        assert imap.alive


async def test_idle_interrupted_by_the_app(stack: Stack, user: MailUser) -> None:
    async with direct(stack, user) as imap:
        await imap.select("INBOX")
        wake = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, wake.set)
        started = time.monotonic()
        assert await imap.idle(20, wake) is False
        assert time.monotonic() - started < 3
        await imap.noop()


async def test_idle_cancelled_closes_the_connection(stack: Stack, user: MailUser) -> None:
    async with direct(stack, user) as imap:
        await imap.select("INBOX")
        waiting = asyncio.create_task(imap.idle(20, asyncio.Event()))
        await asyncio.sleep(0.3)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        assert not imap.alive
    assert await wait_for_sessions(stack, user, 0) == 0


async def test_leases_never_exceed_the_limit_under_concurrency(stack: Stack) -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{stack.redis}/0")
    try:
        leases = WatcherLeases(redis, 4)
        user = f"leases-{secrets.token_hex(4)}@x.test"
        taken = await asyncio.gather(*(leases.acquire(user, f"h{n}") for n in range(20)))
        assert sum(taken) == 4
        assert await leases.held(user) == 4
        holder = next(f"h{n}" for n, ok in enumerate(taken) if ok)
        assert await leases.acquire(user, holder)  # a holder renews its own
        await leases.release(user, holder)
        assert await leases.acquire(user, "another")
        assert not await leases.acquire(user, "one more")
        # Another account is counted apart.
        assert await leases.acquire(f"other-{user}", "h0")
    finally:
        await redis.aclose()


async def test_a_lease_not_renewed_lapses(stack: Stack) -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{stack.redis}/0")
    try:
        leases = WatcherLeases(redis, 1)
        user = f"lapse-{secrets.token_hex(4)}@x.test"
        assert await leases.acquire(user, "dead-instance")
        # As if its instance had died: the lease's time passed without renewal.
        key = leases._key(user)
        await redis.zadd(key, {"dead-instance": time.time() - 1})
        assert await leases.acquire(user, "live-instance")
        await leases.renew(user, "never-held")
        assert await leases.held(user) == 1  # renewing never takes a lease
    finally:
        await redis.aclose()
