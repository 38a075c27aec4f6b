"""Brute-force limits on the password and the second-factor steps, kept in Redis so that they
hold across app instances.

Failures are counted per account *and* client address: five in a row lock that pair for a
growing delay. Counting per account alone would let anyone lock a doctor out of their own
mailbox from elsewhere; a separate, looser limit per address stops one client from spraying
many accounts. "Address" means the client's network (``networks.client_network``): an IPv6
/64 counts as one address. What one account may suffer from many networks is the business
of ``budget.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from webmail.auth.networks import DEFAULT_IPV6_PREFIX, account_network_digest
from webmail.auth.sessions import redis_errors

PREFIX = "mss:throttle:"


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

    async def lock_for(self, account: str, address: str) -> Lock | None:
        """The lock in force for this account from this address, if any."""
        with redis_errors():
            values = await self.redis.mget(
                self._key("lock", account, address), self._key("addr-lock", "", address)
            )
        until = max(float(value) for value in values if value is not None) if any(values) else 0
        return Lock(until) if until > time.time() else None

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

    async def succeeded(self, account: str, address: str) -> None:
        with redis_errors():
            await self.redis.delete(self._key("fail", account, address))

    def _key(self, kind: str, account: str, address: str) -> str:
        digest = account_network_digest(account, address, self.limits.ipv6_prefix)
        return f"{PREFIX}{self.step}:{kind}:{digest}"
