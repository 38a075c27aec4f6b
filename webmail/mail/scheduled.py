"""Undo send: a message waits out a short delay in the send ledger before it leaves.

Scheduling writes the message's ledger record (``mail/outbox.py``) as ``scheduled`` with
``SET NX``, its due time in a sorted set, and what the send needs sealed with the server's
key (``mail/send_seal.py``, expiring after the delay and a grace period), in one script.
From then on exactly one compare-and-set decides the message's fate, whoever runs it, and
the same script deletes the sealed send:

- the sender (``take``): ``scheduled`` -> ``sending``, then the usual send and outcome;
- the user (``cancel``): ``scheduled`` -> no record: nothing was sent, the draft is kept;
- the recovery pass (``recover``), on any instance: a message still ``scheduled`` past its
  due time belongs to a process that died. The pass takes it (``scheduled`` -> ``sending``)
  with its sealed send, and sends it. When the sealed send is gone (expired, or a secret
  key changed meanwhile) the message becomes "not sent": no record, and a note the
  account's next pages show. Never sent twice: whoever wins the compare-and-set sends.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis

from webmail.mail.outbox import KEY_PREFIX, RECORD_SECONDS, Claim, Outbox, Record, State

DUE_KEY = "mss:send:due"  # sorted set: ledger key -> due time
NOT_SENT_PREFIX = "mss:send:notsent:"  # per message: why a scheduled send did not leave
NOTICES_PREFIX = "mss:send:notices:"  # per account: scheduled sends lost in a restart
SEALED_PREFIX = "mss:send:sealed:"  # per message: its sealed send, for the delay only
NOTE_SECONDS = 24 * 3600

# KEYS: ledger key, due set, sealed key. ARGV: record, due time, record TTL, member,
# sealed send ('' for none), its TTL.
_SCHEDULE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[3])) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
if ARGV[5] ~= '' then redis.call('SET', KEYS[3], ARGV[5], 'EX', tonumber(ARGV[6])) end
return 1
"""

# KEYS: ledger key, due set, sealed key. ARGV: expected record, new record (or '' to
# delete), member, record TTL. Answers 0 when the record changed, else the sealed send
# ('' when none), deleted in the same step: whoever leaves the schedule holds the only copy.
_LEAVE_SCHEDULE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[4])) end
redis.call('ZREM', KEYS[2], ARGV[3])
local sealed = redis.call('GET', KEYS[3])
redis.call('DEL', KEYS[3])
return sealed or ''
"""


@dataclass(frozen=True)
class UndoSendConfig:
    # MSS_UNDO_SEND_SECONDS: how long Envoyer can be taken back; 0 sends at once.
    seconds: int = 10
    # How long past its due time a scheduled send can still be sent by another instance
    # (its sealed send expires then): past it, the message is declared not sent.
    grace_seconds: int = 30
    # How long past its due time the recovery pass waits before taking a send over: the
    # process that scheduled it takes it at the due time if it lives.
    takeover_seconds: float = 2.0


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


@dataclass(frozen=True)
class Takeover:
    """A scheduled send the recovery pass took from a process that is gone: the right to
    send it (``claim``) and its sealed send, to open with the server's key."""

    account: str
    message_id: str
    claim: Claim
    sealed: str


class Schedule:
    def __init__(self, redis: Redis, outbox: Outbox, config: UndoSendConfig) -> None:
        self.redis = redis
        self.outbox = outbox
        self.config = config

    def _member(self, account: str, message_id: str) -> str:
        return json.dumps([account.lower(), message_id])

    @staticmethod
    def sealed_key(ledger_key: str) -> str:
        return SEALED_PREFIX + ledger_key.removeprefix(KEY_PREFIX)

    def context(self, account: str, message_id: str) -> str:
        """The associated data a sealed send is bound to: its own ledger key."""
        return Outbox.key(account, message_id)

    async def schedule(
        self, account: str, message_id: str, delay: float, sealed: str = ""
    ) -> Scheduled | None:
        """Reserve this message for a send in ``delay`` seconds, with its ``sealed`` send
        kept until the grace period is over; None when the ledger already knows it
        (scheduled, sending or sent elsewhere)."""
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
        sealed_seconds = math.ceil(delay + self.config.grace_seconds)
        done = await self.redis.eval(
            _SCHEDULE,
            3,
            key,
            DUE_KEY,
            self.sealed_key(key),
            raw,
            due,
            RECORD_SECONDS,
            member,
            sealed,
            sealed_seconds,
        )
        return Scheduled(account, message_id, key, raw, due) if done else None

    async def take(self, scheduled: Scheduled, seconds: float) -> Claim | None:
        """The right to send now, or None when it was cancelled or taken over."""
        raw = self.outbox.sending_record(seconds).encode()
        member = self._member(scheduled.account, scheduled.message_id)
        if await self._leave(scheduled.key, scheduled.raw, raw, member) is not None:
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
        if await self._leave(key, current, "", member) is not None:
            return Cancel.CANCELLED
        return await self.cancel(account, message_id)  # it changed meanwhile: look again

    async def recover(self, seconds: float, now: float | None = None) -> list[Takeover]:
        """Take over the scheduled sends whose process is gone, each with the right to send
        it for ``seconds``. A send whose sealed copy is gone is declared not sent at once
        (its ``sealed`` is then "")."""
        now = time.time() if now is None else now
        late = now - self.config.takeover_seconds
        taken = []
        for value in await self.redis.zrangebyscore(DUE_KEY, "-inf", late):
            member = value.decode() if isinstance(value, bytes) else str(value)
            account, message_id = json.loads(member)
            key = Outbox.key(account, message_id)
            current = await self.redis.get(key)
            record = Record.decode(current) if current is not None else None
            if current is None or record is None or record.state is not State.SCHEDULED:
                await self.redis.zrem(DUE_KEY, member)  # ended some other way
                continue
            raw = self.outbox.sending_record(seconds).encode()
            sealed = await self._leave(key, current, raw, member)
            if sealed is None:
                continue  # its own process, the user or another instance came first
            claim = Claim(key=key, raw=raw, resend=False)
            if not sealed:
                await self.give_up(account, message_id, claim)
            taken.append(Takeover(account, message_id, claim, sealed))
        return taken

    async def give_up(self, account: str, message_id: str, claim: Claim, reason: str = "") -> None:
        """A send taken over that cannot be made (no sealed send, or its credential no
        longer works): nothing was sent, and the account is told."""
        await self.outbox.release(claim)
        await self.note_not_sent(account, message_id, reason)

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

    async def _leave(self, key: str, expected: bytes | str, new: str, member: str) -> str | None:
        """Out of the schedule if the record is still ``expected``: the sealed send it
        held ("" for none), or None when the record changed meanwhile."""
        old = expected.decode() if isinstance(expected, bytes) else expected
        done = await self.redis.eval(
            _LEAVE_SCHEDULE, 3, key, DUE_KEY, self.sealed_key(key), old, new, member,
            RECORD_SECONDS,
        )  # fmt: skip
        if isinstance(done, int):
            return None
        return done.decode() if isinstance(done, bytes) else str(done)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(p.lower() for p in parts).encode()).hexdigest()
