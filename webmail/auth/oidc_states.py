"""What a Pro Santé Connect sign-in or logout keeps in Redis until the provider sends the
browser back, each under the hash of its ``state`` and consumed by one GETDEL: a state
works once, and never lives in a cookie."""

from __future__ import annotations

import hashlib
import json

from redis.asyncio import Redis
from redis.exceptions import RedisError

from webmail.auth.counters import count_one
from webmail.auth.oidc_errors import PscRefused, PscTooManyStarts, PscUnavailable

STATE_PREFIX = "mss:psc:state:"
STARTS_PREFIX = "mss:psc:starts:"
LOGOUT_PREFIX = "mss:psc:logout:"
# Time to sign in at the provider (e-CPS on the phone included) before the state is forgotten;
# the same to confirm a logout there.
STATE_SECONDS = 600
# Sign-ins one network may start in STATE_SECONDS: each keeps a state in Redis for that long,
# so a script asking without end would fill it. One a second on average: a hospital's
# doctors behind one address at the change of shift stay well below.
STARTS_PER_NETWORK = 600
MAX_STATE_LENGTH = 200


class PscStates:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def remember_sign_in(self, state: str, pending: dict[str, str], network: str) -> None:
        """Keep ``pending`` (binding, nonce, verifier) for ``state``, counting the start
        against ``network``; PscTooManyStarts past STARTS_PER_NETWORK."""
        starts_key = STARTS_PREFIX + digest(network)
        try:
            starts = await count_one(self._redis, starts_key, STATE_SECONDS)
            if starts > STARTS_PER_NETWORK:
                raise PscTooManyStarts(network)
            await self._redis.set(_key(STATE_PREFIX, state), json.dumps(pending), ex=STATE_SECONDS)
        except (RedisError, OSError) as error:
            raise PscUnavailable(str(error)) from error

    async def take_sign_in(self, state: str) -> dict[str, str]:
        """What was kept for ``state``, forgotten at once; PscRefused if nothing was."""
        if not state or len(state) > MAX_STATE_LENGTH:
            raise PscRefused("state_missing")
        raw = await self._take(_key(STATE_PREFIX, state))
        if raw is None:
            # Never issued, already used, or older than STATE_SECONDS.
            raise PscRefused("state_unknown")
        pending = json.loads(raw)
        assert isinstance(pending, dict)
        return {key: str(value) for key, value in pending.items()}

    async def remember_logout(self, state: str) -> None:
        try:
            await self._redis.set(_key(LOGOUT_PREFIX, state), "1", ex=STATE_SECONDS)
        except (RedisError, OSError) as error:
            raise PscUnavailable(str(error)) from error

    async def take_logout(self, state: str) -> bool:
        """Whether ``state`` is a logout this webmail sent to the provider, not yet back."""
        if not state or len(state) > MAX_STATE_LENGTH:
            return False
        return await self._take(_key(LOGOUT_PREFIX, state)) is not None

    async def _take(self, key: str) -> bytes | None:
        try:
            raw = await self._redis.getdel(key)
        except (RedisError, OSError) as error:
            raise PscUnavailable(str(error)) from error
        return raw if raw is None or isinstance(raw, bytes) else str(raw).encode()


def _key(prefix: str, state: str) -> str:
    return prefix + digest(state)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
