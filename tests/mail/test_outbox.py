"""The send ledger against the real Redis: one claim wins, whatever the concurrency."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from dev.stack import Stack
from webmail.mail.outbox import Outbox, Record, State


@pytest.fixture
async def ledger(stack: Stack) -> AsyncIterator[Outbox]:
    redis = Redis(port=stack.redis)
    try:
        yield Outbox(redis, sending_seconds=60)
    finally:
        await redis.aclose()


def ids() -> tuple[str, str]:
    return f"t-{secrets.token_hex(4)}@medecin.mssante.test", f"<mss.{secrets.token_hex(16)}@x>"


async def test_one_of_many_concurrent_claims_wins(ledger: Outbox) -> None:
    account, message_id = ids()
    claims = await asyncio.gather(*(ledger.claim(account, message_id) for _ in range(20)))
    assert sum(claim is not None for claim in claims) == 1


async def test_the_key_names_neither_account_nor_message(ledger: Outbox) -> None:
    account, message_id = ids()
    key = ledger.key(account, message_id)
    assert account not in key and message_id not in key
    assert ledger.key(account.upper(), message_id) == key
    assert ledger.key(account, message_id + "x") != key


async def test_released_claim_can_be_taken_again(ledger: Outbox) -> None:
    account, message_id = ids()
    claim = await ledger.claim(account, message_id)
    assert claim is not None
    await ledger.release(claim)
    assert await ledger.state(account, message_id) is None
    assert await ledger.claim(account, message_id) is not None


async def test_sent_is_never_claimed_again_even_with_confirmation(ledger: Outbox) -> None:
    account, message_id = ids()
    claim = await ledger.claim(account, message_id)
    assert claim is not None
    await ledger.finish(claim, State.SENT)
    assert await ledger.claim(account, message_id) is None
    assert await ledger.claim_resend(account, message_id) is None
    record = await ledger.state(account, message_id)
    assert record is not None and record.state is State.SENT


async def test_unknown_is_taken_only_by_one_confirmed_resend(ledger: Outbox) -> None:
    account, message_id = ids()
    claim = await ledger.claim(account, message_id)
    assert claim is not None
    await ledger.finish(claim, State.UNKNOWN)
    assert await ledger.claim(account, message_id) is None  # a plain retry never sends
    resends = await asyncio.gather(*(ledger.claim_resend(account, message_id) for _ in range(10)))
    winners = [r for r in resends if r is not None]
    assert len(winners) == 1 and winners[0].resend
    # Nothing sent on that resend: the message stays unknown, not free.
    await ledger.release(winners[0])
    record = await ledger.state(account, message_id)
    assert record is not None and record.state is State.UNKNOWN


async def test_a_stale_claim_counts_as_unknown(ledger: Outbox) -> None:
    account, message_id = ids()
    key = ledger.key(account, message_id)
    stale = Record(state=State.SENDING, started=time.time() - 3600, token="old")
    await ledger.redis.set(key, stale.encode(), ex=600)
    record = await ledger.state(account, message_id)
    assert record is not None and record.state is State.UNKNOWN
    assert await ledger.claim(account, message_id) is None
    assert await ledger.claim_resend(account, message_id) is not None


async def test_an_old_claim_cannot_overwrite_a_newer_outcome(ledger: Outbox) -> None:
    account, message_id = ids()
    first = await ledger.claim(account, message_id)
    assert first is not None
    await ledger.finish(first, State.UNKNOWN)
    second = await ledger.claim_resend(account, message_id)
    assert second is not None
    await ledger.finish(second, State.SENT)
    await ledger.release(first)  # a late, confused writer
    record = await ledger.state(account, message_id)
    assert record is not None and record.state is State.SENT


async def test_settle_waits_for_the_other_request(ledger: Outbox) -> None:
    account, message_id = ids()
    claim = await ledger.claim(account, message_id)
    assert claim is not None

    async def finish_later() -> None:
        await asyncio.sleep(0.5)
        await ledger.finish(claim, State.SENT)

    task = asyncio.create_task(finish_later())
    record = await ledger.settle(account, message_id, timeout=5)
    await task
    assert record is not None and record.state is State.SENT


async def test_garbage_in_redis_is_not_trusted(ledger: Outbox) -> None:
    account, message_id = ids()
    await ledger.redis.set(ledger.key(account, message_id), b"{not json", ex=60)
    assert await ledger.state(account, message_id) is None
    assert await ledger.claim(account, message_id) is None  # still held: never send blindly
    assert await ledger.claim_resend(account, message_id) is None


async def test_a_long_send_is_not_taken_for_dead_before_its_own_deadline(stack: Stack) -> None:
    """A send to many recipients outlasts the default bound: its claim says how long."""
    redis = Redis(port=stack.redis)
    try:
        hurried = Outbox(redis, sending_seconds=0.05)  # what another request would assume
        account, message_id = ids()
        claim = await hurried.claim(account, message_id, seconds=30)
        assert claim is not None
        await asyncio.sleep(0.2)
        assert await hurried.claim_resend(account, message_id) is None  # still sending
        other, other_id = ids()
        assert await hurried.claim(other, other_id, seconds=0.05) is not None
        await asyncio.sleep(0.2)
        assert await hurried.claim_resend(other, other_id) is not None  # past its deadline
    finally:
        await redis.aclose()
