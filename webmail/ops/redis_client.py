"""How the webmail reaches Redis: one URL, or a primary found through Redis Sentinel.

Retries. A command that fails with a connection error or a timeout is retried once, on a new
connection (after a Redis restart every pooled connection is dead; after a failover Sentinel
names the new primary). Most of our commands are idempotent (GET, SET with a value, DEL,
compare-and-set scripts). A few are not: the INCR-based throttle counters and the Lua scripts
that reserve a sign-in or second-factor try. redis-py cannot tell whether a command whose reply
was lost had run, so such a retry may count one attempt twice. We accept it: the error is on the
safe side (a lock one try early) and happens only when the connection drops between the command
and its reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_SERVICE = "mss-webmail"
# At most one retry of a command (see the module's docstring).
RETRIES = 1


class RedisConfigError(ValueError):
    """A Redis setting is wrong; the message names it."""


@dataclass(frozen=True)
class RedisConfig:
    """MSS_REDIS_URL, or MSS_REDIS_SENTINELS and the rest: the primary found by Sentinel."""

    url: str = DEFAULT_URL
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = DEFAULT_SERVICE
    # The primary's and replicas' password (in URL mode it is in the URL).
    password: str | None = None
    # The sentinels' own password, when they have one (requirepass in sentinel.conf).
    sentinel_password: str | None = None
    tls: bool = False
    db: int = 0

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    def describe(self) -> str:
        """Where Redis is, for messages; never a password."""
        if self.uses_sentinel:
            hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"Sentinel service {self.service!r} via {hosts}"
        return self.url.split("@")[-1] if "@" in self.url else self.url


def redis_config(env: Mapping[str, str]) -> RedisConfig:
    def raw(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    url = raw("MSS_REDIS_URL") or DEFAULT_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise RedisConfigError("MSS_REDIS_URL: expected redis://, rediss:// or unix:// URL")
    sentinels = _sentinel_addresses(raw("MSS_REDIS_SENTINELS") or "")
    db = raw("MSS_REDIS_DB") or "0"
    if not db.isdigit() or int(db) > 15:
        raise RedisConfigError(f"MSS_REDIS_DB: expected a number from 0 to 15, got {db!r}")
    tls = (raw("MSS_REDIS_TLS") or "false").lower()
    if tls not in ("true", "false", "1", "0", "yes", "no"):
        raise RedisConfigError(f"MSS_REDIS_TLS: expected true or false, got {tls!r}")
    return RedisConfig(
        url=url,
        sentinels=sentinels,
        service=raw("MSS_REDIS_SENTINEL_SERVICE") or DEFAULT_SERVICE,
        password=raw("MSS_REDIS_PASSWORD"),
        sentinel_password=raw("MSS_REDIS_SENTINEL_PASSWORD"),
        tls=tls in ("true", "1", "yes"),
        db=int(db),
    )


def _sentinel_addresses(value: str) -> tuple[tuple[str, int], ...]:
    addresses = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RedisConfigError(
                f"MSS_REDIS_SENTINELS: expected host:port,host:port..., got {item!r}"
            )
        addresses.append((host.strip("[]"), int(port)))
    return tuple(addresses)


def _connection_options() -> dict[str, Any]:
    return {
        "socket_timeout": 3,
        # Short: redis-py retries the connect inside each retried command.
        "socket_connect_timeout": 1,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=RETRIES),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        # Connections idle for 30 s are checked (PING) before use.
        "health_check_interval": 30,
    }


def redis_client(config: RedisConfig) -> Redis:
    """Redis for sessions, second factors and throttles, surviving a restart or a failover."""
    options = _connection_options()
    if not config.uses_sentinel:
        return Redis.from_url(config.url, **options)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(config.sentinels),
        sentinel_kwargs={
            "password": config.sentinel_password,
            "socket_timeout": 1,
            "socket_connect_timeout": 1,
            "ssl": config.tls,
        },
        password=config.password,
        ssl=config.tls,
        db=config.db,
        **options,
    )
    client: _SentinelManaged = sentinel.master_for(config.service, redis_class=_SentinelManaged)
    client.sentinel_clients = sentinel.sentinels
    return client


class _SentinelManaged(Redis):
    """The primary's client, which also closes its connections to the sentinels."""

    sentinel_clients: list[Redis]

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        for sentinel in getattr(self, "sentinel_clients", []):
            await sentinel.aclose()
