"""The undo-send schedule against the real Redis: one compare-and-set decides each message,
and the sealed send lives no longer than the delay and its grace, and no longer than the
schedule itself."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from dev.stack import Stack
from webmail.mail.outbox import Outbox, State
from webmail.mail.scheduled import Cancel, Schedule, UndoSendConfig
from webmail.mail.send_seal import Credential, SealedSend, SendSeal

SECRET = secrets.token_urlsafe(48)


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    # A database of its own: the recovery pass reads one due set per database, and the
    # apps of the other tests use database 0.
    client = Redis(port=stack.redis, db=7)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


def store(redis: Redis, grace: int = 30, takeover: float = 0.0) -> Schedule:
    return Schedule(redis, Outbox(redis, 60), UndoSendConfig(1, grace, takeover))


def ids() -> tuple[str, str]:
    return f"t-{secrets.token_hex(4)}@medecin.mssante.test", f"<mss.{secrets.token_hex(16)}@x>"


def sealed_send(account: str, message_id: str) -> SealedSend:
    return SealedSend(
        account=account,
        message_id=message_id,
        credential=Credential("password", "pw-secret"),
        message=b"Subject: Compte rendu\r\n\r\nCorps\r\n",
        recipients=["confrere@infirmier.mssante.test"],
        author=account,
        session_key="k" * 64,
    )


async def sealed_keys(redis: Redis) -> list[bytes]:
    return [key async for key in redis.scan_iter("mss:send:sealed:*")]


async def test_the_sealed_send_expires_with_the_grace_and_names_nothing(redis: Redis) -> None:
    schedule = store(redis, grace=5)
    account, message_id = ids()
    token = SendSeal(SECRET).seal(
        sealed_send(account, message_id), schedule.context(account, message_id)
    )
    assert await schedule.schedule(account, message_id, 3, token) is not None
    [key] = await sealed_keys(redis)
    assert 0 < await redis.ttl(key) <= 8  # the delay plus the grace
    stored = await redis.get(key)
    assert stored is not None
    for clear in (b"pw-secret", account.encode(), message_id.encode(), b"Compte rendu"):
        assert clear not in stored and clear not in key


async def test_taking_or_cancelling_deletes_the_sealed_send(redis: Redis) -> None:
    schedule = store(redis)
    account, message_id = ids()
    scheduled = await schedule.schedule(account, message_id, 1, "sealed")
    assert scheduled is not None and await sealed_keys(redis)
    assert await schedule.take(scheduled, 60) is not None
    assert await sealed_keys(redis) == []

    other = ids()
    assert await schedule.schedule(*other, 1, "sealed") is not None
    assert await schedule.cancel(*other) is Cancel.CANCELLED
    assert await sealed_keys(redis) == []
    assert await schedule.outbox.state(*other) is None


async def test_many_recovery_passes_at_once_take_a_send_once(redis: Redis) -> None:
    account, message_id = ids()
    first = store(redis)
    scheduled = await first.schedule(account, message_id, 0, "sealed-send")
    assert scheduled is not None
    passes = [store(redis) for _ in range(8)]
    results = await asyncio.gather(
        *(schedule.recover(60) for schedule in passes), first.take(scheduled, 60)
    )
    takeovers = [taken for found in results[:-1] for taken in found]  # type: ignore[union-attr]
    owner = results[-1]
    assert len(takeovers) + (owner is not None) == 1
    if takeovers:
        assert takeovers[0].sealed == "sealed-send"
    record = await first.outbox.state(account, message_id)
    assert record is not None and record.state is State.SENDING
    assert await first.cancel(account, message_id) is Cancel.TOO_LATE
    assert await sealed_keys(redis) == []


async def test_a_send_whose_seal_expired_is_declared_not_sent(redis: Redis) -> None:
    schedule = store(redis, grace=1)
    account, message_id = ids()
    assert await schedule.schedule(account, message_id, 0, "sealed") is not None
    await asyncio.sleep(2.2)  # past the delay and its grace: the sealed send is gone
    [taken] = await schedule.recover(60)
    assert taken.sealed == ""
    assert await schedule.outbox.state(account, message_id) is None
    assert await schedule.not_sent(account, message_id) == ""
    assert await schedule.pop_notices(account) == 1


async def test_the_recovery_pass_leaves_a_send_before_its_due_time(redis: Redis) -> None:
    schedule = store(redis, takeover=2)
    account, message_id = ids()
    scheduled = await schedule.schedule(account, message_id, 1, "sealed")
    assert scheduled is not None
    assert await schedule.recover(60) == []
    await asyncio.sleep(1.5)  # due, but its process may still take it
    assert await schedule.recover(60) == []
    assert await schedule.take(scheduled, 60) is not None


def test_a_sealed_send_opens_for_its_own_message_and_key_only() -> None:
    account, message_id = ids()
    seal = SendSeal(SECRET)
    send = sealed_send(account, message_id)
    token = seal.seal(send, "mss:send:aaaa")
    assert seal.open(token, "mss:send:aaaa") == send
    assert seal.open(token, "mss:send:bbbb") is None  # moved to another message's record
    assert SendSeal(SECRET + "x").open(token, "mss:send:aaaa") is None  # another secret
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    assert seal.open(tampered, "mss:send:aaaa") is None
    assert seal.open("not base64 at all!", "mss:send:aaaa") is None
