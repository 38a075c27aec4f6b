"""How many IMAP connections the webmail opens: per user (across instances) and per process.

Operators allow about ten simultaneous IMAP connections per user, shared with the user's
other mail programs: the webmail keeps to its own smaller share, counted in Redis so that every
instance sees the same count. Each open connection holds a slot that expires on its own, so the
slots of an instance that crashed free themselves.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from webmail.auth.sessions import redis_errors
from webmail.mail.imap_errors import ImapConnectionLimit, ImapUnavailable

SLOTS_PREFIX = "mss:imap-slots:"
# Drop expired slots, then take one unless the user has ``limit`` live ones; a holder that
# already has a slot keeps it (a reconnection does not need a second one).
_TAKE = """
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
if redis.call('zscore', KEYS[1], ARGV[3]) == false
   and redis.call('zcard', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('zadd', KEYS[1], ARGV[2], ARGV[3])
redis.call('pexpire', KEYS[1], ARGV[5])
return 1
"""


class LimitsError(ValueError):
    """A limit setting is wrong; the message names it."""


@dataclass(frozen=True)
class ConnectionLimits:
    """MSS_IMAP_MAX_PER_USER and MSS_IMAP_MAX_PER_PROCESS."""

    per_user: int = 4
    per_process: int = 500


def connection_limits(env: Mapping[str, str]) -> ConnectionLimits:
    def number(name: str, default: int, high: int) -> int:
        value = env.get(name, "").strip() or str(default)
        if not value.isdigit() or not 1 <= int(value) <= high:
            raise LimitsError(f"{name}: expected a number from 1 to {high}, got {value!r}")
        return int(value)

    return ConnectionLimits(
        per_user=number("MSS_IMAP_MAX_PER_USER", ConnectionLimits.per_user, 50),
        per_process=number("MSS_IMAP_MAX_PER_PROCESS", ConnectionLimits.per_process, 100_000),
    )


class UserSlots:
    """One slot in Redis per open IMAP connection of a user, for every instance to see."""

    def __init__(self, redis: Redis, limit: int, ttl_seconds: float) -> None:
        self.redis = redis
        self.limit = limit
        self.ttl_seconds = ttl_seconds
        self._take = redis.register_script(_TAKE)

    def _key(self, user: str) -> str:
        return SLOTS_PREFIX + hashlib.sha256(user.lower().encode()).hexdigest()

    async def take(self, user: str, holder: str) -> bool:
        """Take (or renew) ``holder``'s slot; False when the user has no slot left."""
        now = time.time()
        with redis_errors():
            taken = await self._take(
                keys=[self._key(user)],
                args=[
                    now,
                    now + self.ttl_seconds,
                    holder,
                    self.limit,
                    int(self.ttl_seconds * 1000),
                ],
            )
        return bool(taken)

    async def give_back(self, user: str, holder: str) -> None:
        with redis_errors():
            await self.redis.zrem(self._key(user), holder)

    async def count(self, user: str) -> int:
        with redis_errors():
            return int(await self.redis.zcount(self._key(user), time.time(), "+inf"))


class UserConnectionLimit(ImapConnectionLimit):
    """The user already has the webmail's share of IMAP connections (MSS_IMAP_MAX_PER_USER)."""


class WebmailConnectionLimit(ImapUnavailable):
    """This process already holds its maximum of IMAP connections, none of them idle."""
