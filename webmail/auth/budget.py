"""How many second-factor codes anyone may try on one account, whatever their addresses.

The locks of ``throttle.py`` count per account *and* network, so an attacker who holds the
password and many addresses (an IPv6 /64 alone is 2^64 of them) would meet none. Three more
limits close that gap; the README ("How many codes can be guessed") derives its figures from
the constants below:

- **per account**, over a rolling day: after ``ACCOUNT_FAILURES_BEFORE_LOCK`` wrong codes from
  networks the owner has not used, each further try waits a doubling delay, and
  ``ACCOUNT_DAILY_FAILURES`` is the cap for such networks, and ``ACCOUNT_MONTHLY_FAILURES``
  over ``MONTH_DAYS``;
- **known networks** (a network from which the account passed the second factor within
  ``KNOWN_NETWORK_DAYS``) are not held by those two, so that an attacker elsewhere cannot
  lock the doctor out; all networks together stop at ``KNOWN_DAILY_FAILURES`` a day;
- **per password-only session**, ``SESSION_CODE_ATTEMPTS`` tries; then the session ends and
  the password must be typed again.

A try is reserved *before* its code is checked, in one Lua script: concurrent guesses cannot
all pass the check before any of them is counted. A success gives its reservation back.
Recovery codes (50 random bits each) are outside the account budget, so the owner always has
a way in.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from webmail.auth.networks import DEFAULT_IPV6_PREFIX, account_digest, account_network_digest
from webmail.auth.sessions import PENDING_SECONDS, redis_errors
from webmail.auth.throttle import Lock

PREFIX = "mss:otp-budget:"
DAY_SECONDS = 86400
ACCOUNT_FAILURES_BEFORE_LOCK = 5
ACCOUNT_FIRST_LOCK_SECONDS = 60
ACCOUNT_MAX_LOCK_SECONDS = 3600
ACCOUNT_DAILY_FAILURES = 10
# Over a longer window too, or the daily cap alone would add up to 3,650 guesses a year.
ACCOUNT_MONTHLY_FAILURES = 30
MONTH_DAYS = 30
KNOWN_DAILY_FAILURES = 20
KNOWN_NETWORK_DAYS = 30
SESSION_CODE_ATTEMPTS = 5

# KEYS[1]: the account's tries of the last day (sorted set: member = a random id, score =
# time); KEYS[2]: those from networks the owner has not used, over the last month.
# ARGV: now, member, known (1/0), then the limits (see the constants above).
_RESERVE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[4])
local long_window = tonumber(ARGV[11])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - long_window)
local count = redis.call('ZCARD', KEYS[1])
-- When a set's count falls back below cap: its try of rank count - cap leaves the window.
local function free_at(key, n, cap, span)
  local entry = redis.call('ZRANGE', key, n - cap, n - cap, 'WITHSCORES')
  return tonumber(entry[2]) + span
end
local known_cap = tonumber(ARGV[9])
if count >= known_cap then return tostring(free_at(KEYS[1], count, known_cap, window)) end
if ARGV[3] ~= '1' then
  local monthly, long_count = tonumber(ARGV[10]), redis.call('ZCARD', KEYS[2])
  if long_count >= monthly then
    return tostring(free_at(KEYS[2], long_count, monthly, long_window))
  end
  local daily = tonumber(ARGV[8])
  if count >= daily then return tostring(free_at(KEYS[1], count, daily, window)) end
  local before = tonumber(ARGV[5])
  if count >= before then
    local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
    local delay = math.min(tonumber(ARGV[6]) * 2 ^ (count - before), tonumber(ARGV[7]))
    local until_time = tonumber(last[2]) + delay
    if now < until_time then return tostring(until_time) end
  end
  redis.call('ZADD', KEYS[2], now, ARGV[2])
  redis.call('EXPIRE', KEYS[2], long_window)
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('EXPIRE', KEYS[1], window)
return ''
"""


@dataclass(frozen=True)
class Reservation:
    """One try on the account's budget: given back if the code was right."""

    account_key: str
    unknown_key: str  # the month's tries from unknown networks (the member may be absent)
    member: str


class SecondFactorBudget:
    def __init__(self, redis: Redis, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> None:
        self.redis = redis
        self.ipv6_prefix = ipv6_prefix
        self._reserve = redis.register_script(_RESERVE)

    async def reserve(self, account: str, address: str) -> Reservation | Lock:
        """Take one try from the account's budget before a code is checked; or the lock that
        holds the account for this network (when it ends)."""
        key = self._key("tries", account)
        unknown_key = self._key("unknown-tries", account)
        member = secrets.token_hex(8)
        known = await self.is_known(account, address)
        with redis_errors():
            answer = await self._reserve(
                keys=[key, unknown_key],
                args=[
                    repr(time.time()),
                    member,
                    "1" if known else "0",
                    DAY_SECONDS,
                    ACCOUNT_FAILURES_BEFORE_LOCK,
                    ACCOUNT_FIRST_LOCK_SECONDS,
                    ACCOUNT_MAX_LOCK_SECONDS,
                    ACCOUNT_DAILY_FAILURES,
                    KNOWN_DAILY_FAILURES,
                    ACCOUNT_MONTHLY_FAILURES,
                    MONTH_DAYS * DAY_SECONDS,
                ],
            )
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        return Lock(float(text)) if text else Reservation(key, unknown_key, member)

    async def give_back(self, reservation: Reservation) -> None:
        """The code was right: the try does not count against the owner."""
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(reservation.account_key, reservation.member)
                pipe.zrem(reservation.unknown_key, reservation.member)
                await pipe.execute()

    async def is_known(self, account: str, address: str) -> bool:
        with redis_errors():
            seen = await self.redis.zscore(
                self._key("known", account), self._network(account, address)
            )
        return seen is not None and seen > time.time() - KNOWN_NETWORK_DAYS * DAY_SECONDS

    async def remember(self, account: str, address: str) -> None:
        """The account passed the second factor from this network: it is known for a while."""
        key = self._key("known", account)
        now = time.time()
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(key, "-inf", now - KNOWN_NETWORK_DAYS * DAY_SECONDS)
                pipe.zadd(key, {self._network(account, address): now})
                pipe.expire(key, KNOWN_NETWORK_DAYS * DAY_SECONDS)
                await pipe.execute()

    async def session_try(self, session_id_hash: str) -> int:
        """Count one code try of a password-only session; returns how many it has made."""
        key = f"{PREFIX}session:{session_id_hash}"
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, PENDING_SECONDS)
                count, _ = await pipe.execute()
        return int(count)

    def _network(self, account: str, address: str) -> str:
        return account_network_digest(account, address, self.ipv6_prefix)

    def _key(self, kind: str, account: str) -> str:
        return f"{PREFIX}{kind}:{account_digest(account)}"


def guesses_per_day() -> int:
    """The most wrong 6-digit codes one account can receive in any 24 hours, from anywhere."""
    return max(KNOWN_DAILY_FAILURES, ACCOUNT_DAILY_FAILURES)


def guesses_per_year_from_unknown_networks() -> int:
    """The most wrong codes networks the owner never used can send in any 365 days: the
    monthly cap once per window that starts in the year (the worst alignment)."""
    windows = -(-365 // MONTH_DAYS)
    return min(windows * ACCOUNT_MONTHLY_FAILURES, 365 * ACCOUNT_DAILY_FAILURES)


def success_probability(guesses: int, accepted_codes: int = 3) -> float:
    """The chance that at least one of ``guesses`` random 6-digit codes is accepted, when
    ``accepted_codes`` of the 10^6 are valid at any time (±1 step: 3)."""
    return 1 - (1 - accepted_codes / 10**6) ** guesses
