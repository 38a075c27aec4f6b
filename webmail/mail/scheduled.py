"""Undo send: a message waits out a short delay in the send ledger before it leaves.

Scheduling writes the message's ledger record (``mail/outbox.py``) as ``scheduled`` with
``SET NX``, and the due time in a sorted set, in one script. From then on exactly one
compare-and-set decides the message's fate, whoever runs it:

- the sender (``take``): ``scheduled`` -> ``sending``, then the usual send and outcome;
- the user (``cancel``): ``scheduled`` -> no record: nothing was sent, the draft is kept;
- the recovery pass (``recover``), on any instance: a message still ``scheduled`` well
  past its due time belongs to a process that died with the credentials it needed
  (they are never written to Redis). It becomes "not sent": no record, and a note the
  account's next pages show. Never sent late by someone else, never sent twice.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis

from webmail.mail.outbox import RECORD_SECONDS, Claim, Outbox, Record, State

DUE_KEY = "mss:send:due"  # sorted set: ledger key -> due time
NOT_SENT_PREFIX = "mss:send:notsent:"  # per message: why a scheduled send did not leave
NOTICES_PREFIX = "mss:send:notices:"  # per account: scheduled sends lost in a restart
NOTE_SECONDS = 24 * 3600

_SCHEDULE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[3])) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
return 1
"""

# KEYS: ledger key, due set. ARGV: expected record, new record (or '' to delete), member.
_LEAVE_SCHEDULE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[4])) end
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class UndoSendConfig:
    # MSS_UNDO_SEND_SECONDS: how long Envoyer can be taken back; 0 sends at once.
    seconds: int = 10
    # How long past its due time a scheduled send may still be taken by its process
    # before the recovery pass of any instance declares it not sent.
    grace_seconds: int = 30


class Cancel(StrEnum):
    CANCELLED = "cancelled"  # in time: nothing sent
    TOO_LATE = "too-late"  # sending or sent
    UNKNOWN = "unknown"  # no such scheduled message (never, or already ended)


@dataclass(frozen=True)
class Scheduled:
    """What the scheduling process holds: the record it wrote, to compare against."""

    account: str
    message_id: str
    key: str
    raw: str
    due: float


class Schedule:
    def __init__(self, redis: Redis, outbox: Outbox, config: UndoSendConfig) -> None:
        self.redis = redis
        self.outbox = outbox
        self.config = config

    def _member(self, account: str, message_id: str) -> str:
        return json.dumps([account.lower(), message_id])

    async def schedule(self, account: str, message_id: str, delay: float) -> Scheduled | None:
        """Reserve this message for a send in ``delay`` seconds; None when the ledger
        already knows it (scheduled, sending or sent elsewhere)."""
        now = time.time()
        due = now + delay
        record = Record(
            state=State.SCHEDULED,
            started=now,
            token=secrets.token_hex(8),
            deadline=due + self.config.grace_seconds,
        )
        key = Outbox.key(account, message_id)
        raw = record.encode()
        member = self._member(account, message_id)
        done = await self.redis.eval(_SCHEDULE, 2, key, DUE_KEY, raw, due, RECORD_SECONDS, member)
        return Scheduled(account, message_id, key, raw, due) if done else None

    async def take(self, scheduled: Scheduled, seconds: float) -> Claim | None:
        """The right to send now, or None when it was cancelled or declared not sent."""
        record = self.outbox.sending_record(seconds)
        raw = record.encode()
        if await self._leave(scheduled.key, scheduled.raw, raw, scheduled):
            return Claim(key=scheduled.key, raw=raw, resend=False)
        return None

    async def cancel(self, account: str, message_id: str) -> Cancel:
        key = Outbox.key(account, message_id)
        current = await self.redis.get(key)
        record = Record.decode(current) if current is not None else None
        if current is None or record is None:
            return Cancel.UNKNOWN
        if record.state is not State.SCHEDULED:
            return Cancel.TOO_LATE
        member = self._member(account, message_id)
        if await self._leave_member(key, current, "", member):
            return Cancel.CANCELLED
        return await self.cancel(account, message_id)  # it changed meanwhile: look again

    async def recover(self, now: float | None = None) -> list[tuple[str, str]]:
        """Declare not sent the scheduled sends whose process is gone; (account,
        Message-ID) of each."""
        now = time.time() if now is None else now
        late = now - self.config.grace_seconds
        recovered = []
        for value in await self.redis.zrangebyscore(DUE_KEY, "-inf", late):
            member = value.decode() if isinstance(value, bytes) else str(value)
            account, message_id = json.loads(member)
            key = Outbox.key(account, message_id)
            current = await self.redis.get(key)
            record = Record.decode(current) if current is not None else None
            if current is None or record is None or record.state is not State.SCHEDULED:
                await self.redis.zrem(DUE_KEY, member)  # ended some other way
            elif record.deadline < now and await self._leave_member(key, current, "", member):
                await self.note_not_sent(account, message_id)
                recovered.append((account, message_id))
        return recovered

    async def note_not_sent(
        self, account: str, message_id: str, reason: str = "", *, notify: bool = True
    ) -> None:
        """Why it did not leave, for its status page; with ``notify``, also for the
        account's next mailbox page (the user may have closed the browser)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(NOT_SENT_PREFIX + _digest(account, message_id), reason, ex=NOTE_SECONDS)
            if notify:
                pipe.rpush(NOTICES_PREFIX + _digest(account), message_id)
                pipe.expire(NOTICES_PREFIX + _digest(account), NOTE_SECONDS)
            await pipe.execute()

    async def not_sent(self, account: str, message_id: str) -> str | None:
        """Why this scheduled send did not leave ("" for a lost process), or None."""
        value = await self.redis.get(NOT_SENT_PREFIX + _digest(account, message_id))
        return value.decode() if isinstance(value, bytes) else value

    async def pop_notices(self, account: str) -> int:
        """How many scheduled sends of this account were lost, and forget them."""
        key = NOTICES_PREFIX + _digest(account)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.llen(key)
            pipe.delete(key)
            count, _deleted = await pipe.execute()
        return int(count)

    async def _leave(self, key: str, expected: str, new: str, scheduled: Scheduled) -> bool:
        member = self._member(scheduled.account, scheduled.message_id)
        return await self._leave_member(key, expected, new, member)

    async def _leave_member(self, key: str, expected: bytes | str, new: str, member: str) -> bool:
        old = expected.decode() if isinstance(expected, bytes) else expected
        done = await self.redis.eval(
            _LEAVE_SCHEDULE, 2, key, DUE_KEY, old, new, member, RECORD_SECONDS
        )
        return bool(done)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(p.lower() for p in parts).encode()).hexdigest()
