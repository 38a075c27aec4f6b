"""Each message is sent at most once, whatever the clicks, retries and tabs.

The compose form carries a Message-ID generated when it was first shown; it is the
idempotency key. Before talking to SMTP a request claims it in Redis with one
``SET key value NX EX``: a double click, a browser retry or a second tab finds the claim and
never sends again. Afterwards the claim records what happened:

- ``sent``: done; another submission of the same form is answered "already sent";
- ``unknown``: transmitted but unconfirmed; only an explicit confirmation sends it again;
- released (deleted) when nothing was sent, so a simple retry is safe.

State changes after the claim compare the exact value first (one Lua script), so a stale
request can never overwrite the outcome recorded by another.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum

from redis.asyncio import Redis

log = logging.getLogger(__name__)

KEY_PREFIX = "mss:send:"
# Long enough to cover the session's absolute lifetime: the same form can be posted again
# from the browser's history while the session lives.
RECORD_SECONDS = 24 * 3600

_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3])) end
return 1
"""


class State(StrEnum):
    # Waiting out the undo delay (mail/scheduled.py): nothing sent yet, cancel still allowed.
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Record:
    state: State
    started: float
    token: str
    # After a partial refusal: who refused (address -> [code, text]) and the Message-ID of
    # the resend offered to them, so a second submission shows the same page.
    refused: dict[str, list[str]] = field(default_factory=dict)
    retry_id: str = ""
    # While sending: when the claimer's send must be over, whatever it waits on (each
    # recipient's RCPT has a timeout of its own). Later, a claim still "sending" died.
    deadline: float = 0.0

    def encode(self) -> str:
        return json.dumps(
            {
                "state": self.state,
                "started": self.started,
                "deadline": self.deadline,
                "token": self.token,
                "refused": self.refused,
                "retry_id": self.retry_id,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> Record | None:
        try:
            data = json.loads(raw)
            return cls(
                state=State(data["state"]),
                started=float(data["started"]),
                deadline=float(data.get("deadline", 0.0)),
                token=str(data["token"]),
                refused={
                    str(k): [str(part) for part in v]
                    for k, v in dict(data.get("refused", {})).items()
                },
                retry_id=str(data.get("retry_id", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Claim:
    """Held by the one request allowed to send; ``raw`` is the value it wrote."""

    key: str
    raw: str
    resend: bool  # a confirmed resend of a message whose first outcome is unknown


class Outbox:
    def __init__(self, redis: Redis, sending_seconds: float) -> None:
        self.redis = redis
        # A claim older than this belongs to a request that died mid-send: its outcome is
        # unknown, never "free to send".
        self.sending_seconds = sending_seconds

    @staticmethod
    def key(account: str, message_id: str) -> str:
        digest = hashlib.sha256(f"{account.lower()}\x00{message_id}".encode()).hexdigest()
        return KEY_PREFIX + digest

    async def claim(
        self, account: str, message_id: str, seconds: float | None = None
    ) -> Claim | None:
        """The right to send this message now, or None when another request has it;
        ``seconds``: the longest this send can take (the default bound otherwise)."""
        key = self.key(account, message_id)
        raw = self._sending(seconds).encode()
        if await self.redis.set(key, raw, nx=True, ex=RECORD_SECONDS):
            return Claim(key=key, raw=raw, resend=False)
        return None

    async def claim_resend(
        self, account: str, message_id: str, seconds: float | None = None
    ) -> Claim | None:
        """After an explicit confirmation: take over a message whose outcome is unknown."""
        key = self.key(account, message_id)
        current = await self.redis.get(key)
        if current is None:  # expired or never claimed: an ordinary first send
            return await self.claim(account, message_id, seconds)
        record = Record.decode(current)
        if record is None or self._effective(record) is not State.UNKNOWN:
            return None
        raw = self._sending(seconds).encode()
        if await self._swap(key, current, raw):
            return Claim(key=key, raw=raw, resend=True)
        return None

    async def state(self, account: str, message_id: str) -> Record | None:
        raw = await self.redis.get(self.key(account, message_id))
        record = Record.decode(raw) if raw is not None else None
        if record is None:
            return None
        return replace(record, state=self._effective(record))

    async def settle(self, account: str, message_id: str, timeout: float) -> Record | None:
        """Wait while another request sends this message; its outcome, or None when it
        released the claim (nothing was sent)."""
        deadline = time.monotonic() + timeout
        while True:
            record = await self.state(account, message_id)
            if record is None or record.state is not State.SENDING:
                return record
            if time.monotonic() > deadline:
                return record
            await asyncio.sleep(0.2)

    async def finish(
        self,
        claim: Claim,
        state: State,
        refused: dict[str, list[str]] | None = None,
        retry_id: str = "",
    ) -> None:
        record = replace(_new_record(state), refused=refused or {}, retry_id=retry_id)
        if not await self._swap(claim.key, claim.raw, record.encode()):
            # Another request took the message over (it thought this one dead): both may
            # have sent it. Say so where an operator looks; the user's page says it too.
            log.error("send ledger: an outcome was recorded by another request meanwhile")

    async def release(self, claim: Claim) -> None:
        """Nothing was sent. After a first unknown outcome the message stays unknown."""
        if claim.resend:
            await self.finish(claim, State.UNKNOWN)
        else:
            await self._swap(claim.key, claim.raw, "")

    def sending_record(self, seconds: float | None) -> Record:
        """The record of a claim whose send may take ``seconds`` (mail/scheduled.py)."""
        return self._sending(seconds)

    def _sending(self, seconds: float | None) -> Record:
        record = _new_record(State.SENDING)
        return replace(record, deadline=record.started + (seconds or self.sending_seconds))

    def _effective(self, record: Record) -> State:
        deadline = record.deadline or record.started + self.sending_seconds
        if record.state is State.SENDING and time.time() > deadline:
            return State.UNKNOWN
        return record.state

    async def _swap(self, key: str, expected: bytes | str, new: str) -> bool:
        old = expected.decode() if isinstance(expected, bytes) else expected
        done = await self.redis.eval(_COMPARE_AND_SET, 1, key, old, new, RECORD_SECONDS)
        return bool(done)


def _new_record(state: State) -> Record:
    return Record(state=state, started=time.time(), token=secrets.token_hex(8))
