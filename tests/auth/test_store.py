"""The second-factor store on the real Redis: what each success consumes, and migrations."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable

import pyotp
import pytest
import redis
from redis.asyncio import Redis

from webmail.auth import totp
from webmail.auth.totp import SecondFactorStore, Verdict

KEY = "k" * 40


def run(env: dict[str, str], scenario: Callable[[SecondFactorStore], Awaitable[None]]) -> None:
    async def main() -> None:
        redis = Redis.from_url(env["MSS_REDIS_URL"])
        try:
            await scenario(SecondFactorStore(redis, KEY))
        finally:
            await redis.aclose()

    asyncio.run(main())


def account() -> str:
    return f"store-{secrets.token_hex(4)}@medecin.mssante.test"


def now_step() -> int:
    return int(time.time() // 30)


def test_a_first_enrolment_happens_once_a_replacement_replaces(env: dict[str, str]) -> None:
    who = account()
    first, second = totp.new_secret(), totp.new_secret()

    async def scenario(store: SecondFactorStore) -> None:
        assert await store.enrol(who, first, now_step() - 1, replace=False) is not None
        assert await store.enrol(who, second, now_step() - 1, replace=False) is None
        enrolment = await store.load(who)
        assert enrolment is not None and store.holds(enrolment, who, first)
        codes = await store.enrol(who, second, now_step() - 1, replace=True)
        assert codes is not None
        enrolment = await store.load(who)
        assert enrolment is not None and store.holds(enrolment, who, second)
        assert len(enrolment.recovery) == 10
        assert await store.verify(who, codes[0]) == Verdict.RECOVERY

    run(env, scenario)


def test_an_enrolment_of_the_earlier_form_keeps_its_codes_and_step(env: dict[str, str]) -> None:
    """A record written before the consumed state had keys of its own."""
    who = account()
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).now()

    async def scenario(store: SecondFactorStore) -> None:
        recovery = "ABCDE-FGHJK"
        record = {
            "secret": store._encrypt(secret, who),
            "last_step": now_step(),  # the current code was already used
            "recovery": [store._hash(recovery), store._hash("ZZZZZ-ZZZZZ")],
            "enrolled_at": time.time(),
            "recovery_email": "",
        }
        key = "mss:totp:" + hashlib.sha256(who.encode()).hexdigest()
        await store.redis.set(key, json.dumps(record))
        assert await store.verify(who, code) == Verdict.REPLAY
        answers = await asyncio.gather(*(store.verify(who, recovery) for _ in range(5)))
        assert sorted(answers) == [Verdict.RECOVERY] + [Verdict.WRONG] * 4
        await store.set_recovery_email(who, "secours@example.org")  # rewrites the record
        enrolment = await store.load(who)
        assert enrolment is not None and len(enrolment.recovery) == 1
        assert await store.verify(who, recovery) == Verdict.WRONG  # never resurrected

    run(env, scenario)


def test_the_same_code_checked_at_once_is_accepted_once(env: dict[str, str]) -> None:
    who = account()
    secret = totp.new_secret()

    async def scenario(store: SecondFactorStore) -> None:
        await store.enrol(who, secret, now_step() - 1, replace=False)
        code = pyotp.TOTP(secret).now()
        answers = await asyncio.gather(*(store.verify(who, code) for _ in range(20)))
        assert sorted(answers) == [Verdict.OK] + [Verdict.REPLAY] * 19
        # An older step after a newer one is a replay too.
        newer = pyotp.TOTP(secret).at(time.time() + 30)
        assert await store.verify(who, newer) == Verdict.OK
        assert await store.verify(who, code) == Verdict.REPLAY

    run(env, scenario)


def test_a_code_sent_by_email_is_consumed_once(env: dict[str, str]) -> None:
    who = account()

    async def scenario(store: SecondFactorStore) -> None:
        codes = store.email_codes
        assert await codes.may_send(who)
        assert not await codes.may_send(who)  # one a minute, per account
        await codes.store(who, "123456")
        assert not await codes.consume(who, "654321")  # a wrong guess does not burn it
        assert not await codes.consume("other@medecin.mssante.test", "123456")
        answers = await asyncio.gather(*(codes.consume(who, "123456") for _ in range(10)))
        assert sorted(answers) == [False] * 9 + [True]
        await codes.send_failed(who)
        assert await codes.may_send(who)

    run(env, scenario)


def test_saving_a_recovery_address_never_writes_an_old_secret_back(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-enrolment lands between the read and the write of the recovery address."""
    who = account()
    new = totp.new_secret()
    parsed = totp._parse
    calls = 0

    def parse_then_reenrol_elsewhere(raw: bytes | str) -> totp.Enrolment:
        nonlocal calls
        calls += 1
        if calls == 2:  # the read inside the update (the first is load()'s)
            with redis.Redis.from_url(env["MSS_REDIS_URL"]) as other_instance:
                record = totp._record(totp.Enrolment(secret=sealed_new, enrolled_at=1.0))
                other_instance.set(key, record)
        return parsed(raw)

    async def scenario(store: SecondFactorStore) -> None:
        nonlocal sealed_new, key
        await store.enrol(who, totp.new_secret(), now_step() - 1, replace=False)
        sealed_new, key = store._encrypt(new, who), store._key(who)
        monkeypatch.setattr(totp, "_parse", parse_then_reenrol_elsewhere)
        await store.set_recovery_email(who, "secours@example.org")
        enrolment = await store.load(who)
        assert enrolment is not None and store.holds(enrolment, who, new)
        assert store.recovery_email(enrolment, who) == "secours@example.org"

    sealed_new = key = ""
    run(env, scenario)
