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
the attempt as a failure before it is tried, in one script; when the failures and the
attempts under way already reach the limit it waits for those to end (a lock, or a right
password that lets it go). The outcome then settles the count and sets the lock in one step.
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

# KEYS: pair failures, address failures, pair attempts under way, pair lock, address lock.
# ARGV: the outcome, now, failures before lock, first and longest lock, window seconds,
# failures per address. Outcomes: "failed" (an attempt begun failed: its count stands),
# "counted" (a failure counted after it was tried: second-factor codes), "succeeded" (the
# pair's failures forgotten), "abandoned" (the attempt proved nothing: taken back).
# After a failure, in the same step, the lock it triggers: the failures settled (attempts
# still under way left out) reaching the limit lock the pair for 60 s, 120 s, 240 s ... up to
# the longest, and the address's failures reaching theirs lock the address for the window.
# No attempt can begin between a failure and its lock. Returns the lock's end, or 0.
_SETTLE = """
local function count(key) return tonumber(redis.call('GET', key) or 0) end
local function take_one(key)
  if count(key) > 0 then redis.call('DECR', key) end
end
local outcome = ARGV[1]
local window = tonumber(ARGV[6])
if outcome == 'counted' then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], window)
  redis.call('INCR', KEYS[2])
  if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], window) end
else
  take_one(KEYS[3])
  if outcome == 'succeeded' then
    redis.call('DEL', KEYS[1])
    take_one(KEYS[2])
    return '0'
  elseif outcome == 'abandoned' then
    take_one(KEYS[1])
    take_one(KEYS[2])
    return '0'
  end
end
local now, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local ends = 0
local settled = count(KEYS[1]) - count(KEYS[3])
if settled >= limit then
  local seconds = math.min(tonumber(ARGV[4]) * 2 ^ (settled - limit), tonumber(ARGV[5]))
  ends = now + seconds
  redis.call('SET', KEYS[4], string.format('%.6f', ends), 'EX', math.floor(seconds) + 1)
end
if count(KEYS[2]) >= tonumber(ARGV[7]) then
  ends = math.max(ends, now + window)
  redis.call('SET', KEYS[5], string.format('%.6f', now + window), 'EX', window)
end
return string.format('%.6f', ends)
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
        return await self._settle(account, address, "failed")

    async def abandoned(self, account: str, address: str) -> None:
        """The attempt ``begin`` counted proved nothing (the server was unreachable)."""
        await self._settle(account, address, "abandoned")

    async def failed(self, account: str, address: str) -> Lock | None:
        """Count a failure after it was tried; returns the lock it triggers, if any."""
        return await self._settle(account, address, "counted")

    async def succeeded(self, account: str, address: str, begun: bool = False) -> None:
        """The account's failures from this address are forgotten; ``begun``: the attempt
        was counted by ``begin``, and is taken back from the address's count too."""
        if begun:
            await self._settle(account, address, "succeeded")
            return
        with redis_errors():
            await self.redis.delete(self._key("fail", account, address))

    async def _settle(self, account: str, address: str, outcome: str) -> Lock | None:
        limits = self.limits
        with redis_errors():
            ends = await self._end(
                keys=[
                    self._key("fail", account, address),
                    self._key("addr-fail", "", address),
                    self._key("trying", account, address),
                    self._key("lock", account, address),
                    self._key("addr-lock", "", address),
                ],
                args=[
                    outcome,
                    time.time(),
                    limits.failures_before_lock,
                    limits.first_lock_seconds,
                    limits.max_lock_seconds,
                    limits.window_seconds,
                    limits.failures_per_address,
                ],
            )
        until = float(ends)
        return Lock(until) if until > 0 else None

    def _key(self, kind: str, account: str, address: str) -> str:
        digest = account_network_digest(account, address, self.limits.ipv6_prefix)
        return f"{PREFIX}{self.step}:{kind}:{digest}"
