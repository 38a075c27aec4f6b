"""The account's budget of second-factor tries, on the real Redis, with a clock we drive."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import pytest
from redis.asyncio import Redis

from tests.conftest import ROOT
from webmail.auth import budget
from webmail.auth.budget import Reservation, SecondFactorBudget
from webmail.auth.throttle import Lock

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(budget, "time", SimpleNamespace(time=clock.time))
    return clock


def run(env: dict[str, str], scenario: Callable[[SecondFactorBudget], Awaitable[None]]) -> None:
    async def main() -> None:
        redis = Redis.from_url(env["MSS_REDIS_URL"])
        try:
            await scenario(SecondFactorBudget(redis))
        finally:
            await redis.aclose()

    asyncio.run(main())


def account() -> str:
    import secrets

    return f"budget-{secrets.token_hex(4)}@medecin.mssante.test"


def test_fresh_networks_get_the_daily_cap_with_doubling_delays(
    env: dict[str, str], clock: Clock
) -> None:
    """One try every 30 s for a day, each from a new IPv6 /64: the account takes ten."""
    who = account()
    granted: list[float] = []

    async def scenario(store: SecondFactorBudget) -> None:
        for tick in range(0, 86400, 30):
            clock.now = T0 + tick
            if isinstance(await store.reserve(who, f"2001:db8:{tick:x}::1"), Reservation):
                granted.append(clock.now - T0)

    run(env, scenario)
    assert len(granted) == budget.ACCOUNT_DAILY_FAILURES
    # Five at once, then 60 s, 120 s, 240 s ... after the last one.
    assert granted == [0, 30, 60, 90, 120, 180, 300, 540, 1020, 1980]


def test_fresh_networks_get_the_monthly_cap_however_long_they_try(
    env: dict[str, str], clock: Clock
) -> None:
    """One try every 30 minutes for 60 days, each from a new /64: two months' caps, no more."""
    who = account()
    granted: list[float] = []

    async def scenario(store: SecondFactorBudget) -> None:
        for tick in range(0, 2 * budget.MONTH_DAYS * 86400, 1800):
            clock.now = T0 + tick
            if isinstance(await store.reserve(who, f"2001:db8:{tick:x}::1"), Reservation):
                granted.append(clock.now - T0)

    run(env, scenario)
    assert len(granted) == 2 * budget.ACCOUNT_MONTHLY_FAILURES
    first_month = [t for t in granted if t < budget.MONTH_DAYS * 86400]
    assert len(first_month) == budget.ACCOUNT_MONTHLY_FAILURES
    assert max(first_month) < 3 * 86400  # taken in three days, then nothing for the month


def test_a_right_code_from_an_unknown_network_leaves_the_monthly_budget_whole(
    env: dict[str, str], clock: Clock
) -> None:
    who = account()

    async def scenario(store: SecondFactorBudget) -> None:
        for day in range(2 * budget.MONTH_DAYS):
            clock.now = T0 + day * 86400
            reservation = await store.reserve(who, f"2001:db8:{day:x}::1")
            assert isinstance(reservation, Reservation), day
            await store.give_back(reservation)

    run(env, scenario)


def test_a_known_network_gets_past_the_lock_up_to_the_hard_cap(
    env: dict[str, str], clock: Clock
) -> None:
    who = account()

    async def scenario(store: SecondFactorBudget) -> None:
        await store.remember(who, "192.0.2.44")
        for _ in range(budget.ACCOUNT_FAILURES_BEFORE_LOCK):
            assert isinstance(await store.reserve(who, "2001:db8:bad::1"), Reservation)
        locked = await store.reserve(who, "2001:db8:bad:1::1")
        assert isinstance(locked, Lock) and locked.until == T0 + 60
        # The doctor at the usual practice is not held by the attacker's failures...
        for _ in range(budget.KNOWN_DAILY_FAILURES - budget.ACCOUNT_FAILURES_BEFORE_LOCK):
            assert isinstance(await store.reserve(who, "::ffff:192.0.2.44"), Reservation)
        # ...but nobody gets more than the hard cap in a day, until the oldest try is a day old.
        capped = await store.reserve(who, "192.0.2.44")
        assert isinstance(capped, Lock) and capped.until == T0 + 86400
        clock.now = T0 + 86400 + 1
        assert isinstance(await store.reserve(who, "192.0.2.44"), Reservation)

    run(env, scenario)


def test_a_right_code_gives_its_try_back(env: dict[str, str], clock: Clock) -> None:
    who = account()

    async def scenario(store: SecondFactorBudget) -> None:
        for _ in range(3 * budget.KNOWN_DAILY_FAILURES):
            reservation = await store.reserve(who, "2001:db8:1::1")
            assert isinstance(reservation, Reservation)
            await store.give_back(reservation)

    run(env, scenario)


def test_concurrent_guesses_cannot_all_pass_the_check(env: dict[str, str], clock: Clock) -> None:
    who = account()

    async def scenario(store: SecondFactorBudget) -> None:
        answers = await asyncio.gather(
            *(store.reserve(who, f"2001:db8:{n:x}::1") for n in range(50))
        )
        granted = sum(isinstance(answer, Reservation) for answer in answers)
        assert granted == budget.ACCOUNT_FAILURES_BEFORE_LOCK

    run(env, scenario)


def test_a_network_stays_known_for_thirty_days(env: dict[str, str], clock: Clock) -> None:
    who = account()

    async def scenario(store: SecondFactorBudget) -> None:
        await store.remember(who, "2001:db8:aa:bb::1")
        assert await store.is_known(who, "2001:db8:aa:bb:ffff::2")  # same /64
        assert not await store.is_known(who, "2001:db8:aa:bc::1")
        assert not await store.is_known("someone-else@medecin.mssante.test", "2001:db8:aa:bb::1")
        clock.now = T0 + (budget.KNOWN_NETWORK_DAYS - 1) * 86400
        assert await store.is_known(who, "2001:db8:aa:bb::1")
        clock.now = T0 + (budget.KNOWN_NETWORK_DAYS + 1) * 86400
        assert not await store.is_known(who, "2001:db8:aa:bb::1")

    run(env, scenario)


def test_the_readme_figures_come_from_the_constants() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## How many codes can be guessed", 1)[1].split("\n## ", 1)[0]
    per_day = budget.guesses_per_day()
    assert per_day == budget.KNOWN_DAILY_FAILURES
    figures = {
        "per day": f"**{per_day}**",
        "from unknown networks": f"**{budget.ACCOUNT_DAILY_FAILURES}**",
        "p per day": f"{budget.success_probability(per_day):.1e}",
        "p per year": f"{budget.success_probability(365 * per_day):.2%}",
        "per month from unknown networks": f"**{budget.ACCOUNT_MONTHLY_FAILURES}**",
        "month": f"{budget.MONTH_DAYS} days",
        "per year from unknown networks": (
            f"**{budget.guesses_per_year_from_unknown_networks()}**"
        ),
        "p per year, unknown networks": (
            f"{budget.success_probability(budget.guesses_per_year_from_unknown_networks()):.2%}"
        ),
        "before the lock": f"**{budget.ACCOUNT_FAILURES_BEFORE_LOCK}**",
        "session": f"**{budget.SESSION_CODE_ATTEMPTS}**",
        "known days": f"{budget.KNOWN_NETWORK_DAYS} days",
    }
    missing = {name: text for name, text in figures.items() if text not in section}
    assert not missing, missing
    assert re.search(r"p = 3 × 10\^-6", section)
