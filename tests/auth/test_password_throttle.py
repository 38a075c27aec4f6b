"""Password attempts are counted before they are tried: a burst of simultaneous guesses from
one network gets no more tries than the same guesses one after the other.

On the real Redis with a clock we drive, then through the real app under uvicorn with twenty
requests on the wire at once against the real Dovecot.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from redis.asyncio import Redis

from dev.stack import Stack
from tests.auth.live import Browser, field, new_source_address, serve
from tests.conftest import new_user
from webmail.auth import throttle
from webmail.auth.throttle import Limits, Lock, Throttle
from webmail.settings import Settings

T0 = 1_800_000_000.0
DEFAULT = Limits()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(throttle, "time", SimpleNamespace(time=clock.time))
    return clock


def run(
    env: dict[str, str], scenario: Callable[[Throttle], Awaitable[None]], limits: Limits = DEFAULT
) -> None:
    async def main() -> None:
        redis = Redis.from_url(env["MSS_REDIS_URL"])
        try:
            await scenario(Throttle(redis, limits, "password"))
        finally:
            await redis.aclose()

    asyncio.run(main())


def account() -> str:
    return f"burst-{secrets.token_hex(4)}@medecin.mssante.test"


def network() -> str:
    """A client address of its own: one test's failures never count in another's limits."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def test_attempts_under_way_count_against_the_lock(env: dict[str, str], clock: Clock) -> None:
    who = account()
    where = network()

    async def scenario(limiter: Throttle) -> None:
        begun = [await limiter.begin(who, where, wait=0) for _ in range(7)]
        assert begun[:5] == [None] * 5
        # Five under way would lock if they failed: the sixth and seventh wait.
        assert all(isinstance(lock, Lock) for lock in begun[5:])
        assert begun[5] is not None and begun[5].seconds_left == 60
        for _ in range(4):
            assert await limiter.begun_failed(who, where) is None
        lock = await limiter.begun_failed(who, where)
        assert lock is not None and lock.seconds_left == 60
        assert await limiter.lock_for(who, where) == lock

    run(env, scenario)


def test_after_the_lock_one_attempt_goes_and_its_failure_doubles_the_wait(
    env: dict[str, str], clock: Clock
) -> None:
    who = account()
    where = network()

    async def scenario(limiter: Throttle) -> None:
        for _ in range(5):
            assert await limiter.begin(who, where, wait=0) is None
            await limiter.begun_failed(who, where)
        assert await limiter.begin(who, where, wait=0) is not None  # locked
        clock.now += 61
        assert await limiter.begin(who, where, wait=0) is None  # the lock ran out: one try
        assert await limiter.begin(who, where, wait=0) is not None  # not two at once
        lock = await limiter.begun_failed(who, where)
        assert lock is not None and lock.seconds_left == 120

    run(env, scenario)


def test_an_attempt_that_proved_nothing_is_given_back(env: dict[str, str], clock: Clock) -> None:
    who = account()
    where = network()

    async def scenario(limiter: Throttle) -> None:
        for _ in range(5):
            assert await limiter.begin(who, where, wait=0) is None
        for _ in range(5):
            await limiter.abandoned(who, where)  # the server was unreachable
        for _ in range(4):
            assert await limiter.begin(who, where, wait=0) is None
            assert await limiter.begun_failed(who, where) is None
        assert await limiter.begin(who, where, wait=0) is None
        await limiter.succeeded(who, where, begun=True)
        # The right password forgets the account's failures from this network.
        assert [await limiter.begin(who, where, wait=0) for _ in range(5)] == [None] * 5

    run(env, scenario)


def test_a_waiting_attempt_goes_when_one_under_way_proves_the_password(
    env: dict[str, str],
) -> None:
    who = account()
    where = network()

    async def scenario(limiter: Throttle) -> None:
        for _ in range(5):
            assert await limiter.begin(who, where, wait=0) is None
        waiting = asyncio.create_task(limiter.begin(who, where, wait=5))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await limiter.succeeded(who, where, begun=True)
        assert await asyncio.wait_for(waiting, 2) is None
        for _ in range(5):  # the four others and the one that waited end: nothing proved
            await limiter.abandoned(who, where)
        # Wrong ones under way instead: the waiting attempt meets the lock they set.
        for _ in range(5):
            assert await limiter.begin(who, where, wait=0) is None
        waiting = asyncio.create_task(limiter.begin(who, where, wait=5))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        for _ in range(5):
            await limiter.begun_failed(who, where)
        lock = await asyncio.wait_for(waiting, 2)
        assert lock is not None and lock == await limiter.lock_for(who, where)

    run(env, scenario)


def test_the_per_network_limit_counts_attempts_under_way(env: dict[str, str], clock: Clock) -> None:
    """Spraying many accounts at once from one network stops at the network's limit (8 here)."""
    where = network()

    async def scenario(limiter: Throttle) -> None:
        accounts = [account() for _ in range(12)]
        begun = [await limiter.begin(who, where, wait=0) for who in accounts]
        assert begun[:8] == [None] * 8
        assert all(lock is not None for lock in begun[8:])
        for who in accounts[:8]:
            await limiter.begun_failed(who, where)
        assert await limiter.begin(account(), where, wait=0) is not None
        assert await limiter.lock_for(account(), where) is not None

    run(env, scenario, Limits(failures_per_address=8))


def test_twenty_simultaneous_wrong_passwords_reach_the_server_five_times(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    audit_file = tmp_path / "audit.log"
    settings = Settings.from_env({**env, "MSS_AUDIT_LOG": str(audit_file)})
    victim = new_user(stack)

    async def scenario() -> None:
        async with serve(settings) as base_url:
            source = new_source_address()
            browsers = [Browser(base_url, source) for _ in range(20)]
            try:
                pages = await asyncio.gather(*(browser.http.get("/login") for browser in browsers))

                async def guess(browser: Browser, page_text: str, n: int) -> int:
                    answer = await browser.http.post(
                        "/login",
                        data={
                            "address": victim.address,
                            "password": f"guess-{n}",
                            "login_token": field(page_text, "login_token"),
                        },
                    )
                    return answer.status_code

                statuses = await asyncio.gather(
                    *(
                        guess(b, p.text, n)
                        for n, (b, p) in enumerate(zip(browsers, pages, strict=True))
                    )
                )
                assert set(statuses) <= {401, 429}
                assert statuses.count(429) >= 15
                # The owner's right password from that network waits for the lock too...
                again = await browsers[0].http.get("/login")
                owner = await browsers[0].http.post(
                    "/login",
                    data={
                        "address": victim.address,
                        "password": victim.password,
                        "login_token": field(again.text, "login_token"),
                    },
                )
                assert owner.status_code == 429
            finally:
                await asyncio.gather(*(browser.close() for browser in browsers))
            # ...while from another network it opens at once.
            elsewhere = Browser(base_url, new_source_address())
            try:
                await elsewhere.password_step(victim)
            finally:
                await elsewhere.close()

    asyncio.run(scenario())
    tried = [
        entry
        for entry in map(json.loads, audit_file.read_text(encoding="utf-8").splitlines())
        if entry["action"] == "login" and entry.get("result") == "refused"
    ]
    assert len(tried) == 5
