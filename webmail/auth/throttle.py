"""Brute-force limits on the password and the second-factor steps, kept in Redis so that they
hold across app instances.

Failures are counted per account *and* client address: five in a row lock that pair for a
growing delay. Counting per account alone would let anyone lock a doctor out of their own
mailbox from elsewhere; a separate, looser limit per address stops one client from spraying
many accounts. "Address" means the client's network (``networks.client_network``): an IPv6
/64 counts as one address. What one account may suffer from many networks is the business
of ``budget.py``.

A password attempt takes seconds on the IMAP server: checking the lock, trying, then counting
the failure would let a burst of simultaneous attempts all pass the check. ``begin`` counts
the attempt as a failure before it is tried, in one script, and refuses it when the failures
and the attempts under way already reach the limit; the outcome then settles the count.
Second-factor codes are checked locally, under the atomic budget of ``budget.py``: they count
after the check (``failed``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from webmail.auth.networks import DEFAULT_IPV6_PREFIX, account_network_digest
from webmail.auth.sessions import redis_errors

PREFIX = "mss:throttle:"

# KEYS: pair lock, address lock, pair failures, address failures, pair attempts under way.
# ARGV: now, failures before lock, window seconds, failures per address, under-way expiry.
# The failures counted include the attempts under way. Once they reach the limit, another
# attempt waits while one is under way: it would lock if it failed. With none under way and
# no lock held, the last lock has run out and one attempt may go, as it would one by one.
# Returns the end of the lock that holds, -1 when the attempts under way fill the limit, or 0.
_BEGIN = """
local now = tonumber(ARGV[1])
local pair_lock = redis.call('GET', KEYS[1]) or '0'
local address_lock = redis.call('GET', KEYS[2]) or '0'
if tonumber(address_lock) > tonumber(pair_lock) then pair_lock = address_lock end
if tonumber(pair_lock) > now then return pair_lock end
local pair = tonumber(redis.call('GET', KEYS[3]) or 0)
local under_way = tonumber(redis.call('GET', KEYS[5]) or 0)
if (pair >= tonumber(ARGV[2]) and under_way > 0)
   or tonumber(redis.call('GET', KEYS[4]) or 0) >= tonumber(ARGV[4]) then
  return '-1'
end
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('INCR', KEYS[4])
if redis.call('TTL', KEYS[4]) < 0 then redis.call('EXPIRE', KEYS[4], ARGV[3]) end
redis.call('INCR', KEYS[5])
redis.call('EXPIRE', KEYS[5], ARGV[5])
return '0'
"""

# KEYS: pair failures, address failures, pair attempts under way.
# ARGV: "failed" (the count stands), "succeeded" (the pair's failures forgotten) or
# "abandoned" (the attempt proved nothing: taken back). Counts never go below 0.
# Returns the pair's failures settled (those still under way left out) and the address's.
_SETTLE = """
local function count(key) return tonumber(redis.call('GET', key) or 0) end
local function take_one(key)
  if count(key) > 0 then redis.call('DECR', key) end
end
take_one(KEYS[3])
if ARGV[1] == 'succeeded' then
  redis.call('DEL', KEYS[1])
  take_one(KEYS[2])
elseif ARGV[1] == 'abandoned' then
  take_one(KEYS[1])
  take_one(KEYS[2])
end
return {math.max(count(KEYS[1]) - count(KEYS[3]), 0), count(KEYS[2])}
"""
# An attempt that never settles (its process died) stops holding others back after this.
UNDER_WAY_SECONDS = 120
# How long an attempt waits for those under way to end (an IMAP login takes up to the
# server's failure delay, two seconds on Dovecot), and how often it looks.
UNDER_WAY_WAIT_SECONDS = 6.0
UNDER_WAY_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Limits:
    failures_before_lock: int = 5
    first_lock_seconds: int = 60
    max_lock_seconds: int = 3600
    failures_per_address: int = 50  # any accounts, per client address, per window
    window_seconds: int = 3600
    ipv6_prefix: int = DEFAULT_IPV6_PREFIX  # an IPv6 client counts as its whole network


@dataclass(frozen=True)
class Lock:
    until: float  # epoch seconds

    @property
    def seconds_left(self) -> int:
        return max(1, int(self.until - time.time() + 0.999))


class Throttle:
    def __init__(self, redis: Redis, limits: Limits, step: str) -> None:
        self.redis = redis
        self.limits = limits
        self.step = step  # "password" or "otp": separate counters
        self._begin = redis.register_script(_BEGIN)
        self._end = redis.register_script(_SETTLE)

    async def lock_for(self, account: str, address: str) -> Lock | None:
        """The lock in force for this account from this address, if any."""
        with redis_errors():
            values = await self.redis.mget(
                self._key("lock", account, address), self._key("addr-lock", "", address)
            )
        until = max(float(value) for value in values if value is not None) if any(values) else 0
        return Lock(until) if until > time.time() else None

    async def begin(
        self, account: str, address: str, wait: float = UNDER_WAY_WAIT_SECONDS
    ) -> Lock | None:
        """Count an attempt about to be tried as a failure; the lock that refuses it instead.
        When the attempts under way fill the limit, waits up to ``wait`` seconds for them to
        end: a right password among them lets this one go, wrong ones lock it out. Every
        attempt begun ends in ``begun_failed``, ``succeeded`` or ``abandoned``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            now = time.time()
            until = await self._try_begin(account, address, now)
            if until >= 0:
                return Lock(until) if until > 0 else None
            if loop.time() >= deadline:
                return Lock(now + self.limits.first_lock_seconds)
            await asyncio.sleep(UNDER_WAY_POLL_SECONDS)

    async def _try_begin(self, account: str, address: str, now: float) -> float:
        limits = self.limits
        with redis_errors():
            held = await self._begin(
                keys=[
                    self._key("lock", account, address),
                    self._key("addr-lock", "", address),
                    self._key("fail", account, address),
                    self._key("addr-fail", "", address),
                    self._key("trying", account, address),
                ],
                args=[
                    now,
                    limits.failures_before_lock,
                    limits.window_seconds,
                    limits.failures_per_address,
                    UNDER_WAY_SECONDS,
                ],
            )
        return float(held)

    async def begun_failed(self, account: str, address: str) -> Lock | None:
        """The attempt ``begin`` counted failed; returns the lock it triggers, if any."""
        pair, per_address = await self._settle(account, address, "failed")
        return await self._lock_after(account, address, pair, per_address)

    async def abandoned(self, account: str, address: str) -> None:
        """The attempt ``begin`` counted proved nothing (the server was unreachable)."""
        await self._settle(account, address, "abandoned")

    async def failed(self, account: str, address: str) -> Lock | None:
        """Count a failure; returns the lock it triggers, if any."""
        limits = self.limits
        pair_key = self._key("fail", account, address)
        address_key = self._key("addr-fail", "", address)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(pair_key)
                pipe.expire(pair_key, limits.window_seconds)
                pipe.incr(address_key)
                pipe.expire(address_key, limits.window_seconds, nx=True)
                pair_failures, _, address_failures, _ = await pipe.execute()
            return await self._lock_after(account, address, pair_failures, address_failures)

    async def _lock_after(
        self, account: str, address: str, pair_failures: int, address_failures: int
    ) -> Lock | None:
        limits = self.limits
        with redis_errors():
            lock: Lock | None = None
            if pair_failures >= limits.failures_before_lock:
                # 60 s, 120 s, 240 s ... for each further failure, up to the maximum.
                extra = pair_failures - limits.failures_before_lock
                seconds = min(limits.first_lock_seconds * 2**extra, limits.max_lock_seconds)
                lock = Lock(time.time() + seconds)
                await self.redis.set(
                    self._key("lock", account, address), lock.until, ex=int(seconds) + 1
                )
            if address_failures >= limits.failures_per_address:
                lock = Lock(time.time() + limits.window_seconds)
                await self.redis.set(
                    self._key("addr-lock", "", address), lock.until, ex=limits.window_seconds
                )
            return lock

    async def succeeded(self, account: str, address: str, begun: bool = False) -> None:
        """The account's failures from this address are forgotten; ``begun``: the attempt
        was counted by ``begin``, and is taken back from the address's count too."""
        if begun:
            await self._settle(account, address, "succeeded")
            return
        with redis_errors():
            await self.redis.delete(self._key("fail", account, address))

    async def _settle(self, account: str, address: str, outcome: str) -> tuple[int, int]:
        """Ends an attempt ``begin`` counted; the pair's settled failures and the address's."""
        with redis_errors():
            pair, per_address = await self._end(
                keys=[
                    self._key("fail", account, address),
                    self._key("addr-fail", "", address),
                    self._key("trying", account, address),
                ],
                args=[outcome],
            )
        return int(pair), int(per_address)

    def _key(self, kind: str, account: str, address: str) -> str:
        digest = account_network_digest(account, address, self.limits.ipv6_prefix)
        return f"{PREFIX}{self.step}:{kind}:{digest}"
