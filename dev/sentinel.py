"""A Redis primary, one replica and three sentinels on loopback, for the failover test.

Debian's ``redis-sentinel`` is ``redis-server`` in sentinel mode: each sentinel here is
``redis-server sentinel.conf --sentinel``, with a config file of its own (sentinels rewrite it).
Ports: base+380 primary, base+381 replica, base+382..384 sentinels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from dev.stack import (
    LOOPBACK,
    _redis_answers,
    _run,
    _runs_redis,
    _stop_daemon,
    _wait_ports_released,
    _wait_until,
)

SERVICE = "mss-webmail"
SENTINELS = 3
# Long enough not to fail over on a busy test machine's hiccup, short enough for a test.
DOWN_AFTER_MS = 2000


@dataclass
class SentinelGroup:
    state_dir: Path
    base_port: int

    @property
    def primary_port(self) -> int:
        return self.base_port + 380

    @property
    def replica_port(self) -> int:
        return self.base_port + 381

    @property
    def sentinel_ports(self) -> list[int]:
        return [self.base_port + 382 + n for n in range(SENTINELS)]

    @property
    def sentinels_setting(self) -> str:
        """MSS_REDIS_SENTINELS for this group."""
        return ",".join(f"{LOOPBACK}:{port}" for port in self.sentinel_ports)

    def _dir(self, name: str) -> Path:
        path = self.state_dir / "sentinel-group" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _names(self) -> list[tuple[str, int]]:
        servers = [("primary", self.primary_port), ("replica", self.replica_port)]
        return servers + [(f"sentinel{n}", p) for n, p in enumerate(self.sentinel_ports)]

    def start(self) -> None:
        self.stop()
        self._start_server("primary", self.primary_port, [])
        self._start_server(
            "replica", self.replica_port, ["--replicaof", LOOPBACK, str(self.primary_port)]
        )
        for n, port in enumerate(self.sentinel_ports):
            self._start_sentinel(f"sentinel{n}", port)
        if not _wait_until(self._replica_in_sync, 20):
            raise RuntimeError("the Redis replica did not catch up with the primary")
        if not _wait_until(self._sentinels_agree, 20):
            raise RuntimeError("the sentinels do not all see the primary and its replica")

    def stop(self) -> None:
        for name, port in self._names():
            _stop_daemon(self._dir(name) / "redis.pid", _runs_redis)
            _wait_ports_released([(LOOPBACK, port)])

    def stop_server(self, port: int) -> None:
        """Stop the primary or the replica on ``port`` (as a crash would, but cleanly)."""
        name = "primary" if port == self.primary_port else "replica"
        _stop_daemon(self._dir(name) / "redis.pid", _runs_redis)

    def restart_server(self, port: int) -> None:
        """Start a stopped server again; the sentinels make it a replica of the primary."""
        name = "primary" if port == self.primary_port else "replica"
        self._start_server(name, port, [])

    def _start_server(self, name: str, port: int, extra: list[str]) -> None:
        directory = self._dir(name)
        command = [
            "redis-server",
            "--port", str(port),
            "--bind", LOOPBACK,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
            "--pidfile", str(directory / "redis.pid"),
            "--logfile", str(directory / "redis.log"),
            "--daemonize", "yes",
            *extra,
        ]  # fmt: skip
        _run(command, f"redis-server ({name})", directory / "redis.log")
        if not _wait_until(lambda: _redis_answers((LOOPBACK, port)), 20):
            raise RuntimeError(f"Redis {name} does not answer on port {port}")

    def _start_sentinel(self, name: str, port: int) -> None:
        directory = self._dir(name)
        config = directory / "sentinel.conf"
        config.write_text(
            f"port {port}\n"
            f"bind {LOOPBACK}\n"
            f"dir {directory}\n"
            f"pidfile {directory / 'redis.pid'}\n"
            f"logfile {directory / 'redis.log'}\n"
            "daemonize yes\n"
            f"sentinel monitor {SERVICE} {LOOPBACK} {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n",
            encoding="utf-8",
        )
        _run(["redis-server", str(config), "--sentinel"], f"sentinel {name}", config)
        if not _wait_until(lambda: _redis_answers((LOOPBACK, port)), 20):
            raise RuntimeError(f"sentinel {name} does not answer on port {port}")

    def _replica_in_sync(self) -> bool:
        return _ask(self.replica_port, "INFO", "replication").get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            replicas = _ask(port, "SENTINEL", "REPLICAS", SERVICE)
            if not isinstance(replicas, list) or len(replicas) != 1:
                return False
        return True

    def primary(self) -> int:
        """The port the sentinels name as the primary now."""
        _host, port = _ask(self.sentinel_ports[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(port)

    def role(self, port: int) -> str:
        return str(_ask(port, "INFO", "replication").get("role", ""))

    def failover(self) -> int:
        """Ask the sentinels to promote the replica; the new primary's port once it is one."""
        before = self.primary()
        _ask(self.sentinel_ports[0], "SENTINEL", "FAILOVER", SERVICE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = self.primary()
            if now != before and self.role(now) == "master":
                return now
            time.sleep(0.1)
        raise RuntimeError("the sentinels did not fail over within 30 s")


def _ask(port: int, *words: str) -> Any:
    """One command to a server or sentinel on loopback; {} or None when it does not answer."""
    client = redis.Redis(
        host=LOOPBACK, port=port, socket_timeout=2, socket_connect_timeout=1, decode_responses=True
    )
    try:
        return client.execute_command(*words)
    except redis.RedisError:
        return {}
    finally:
        client.close()
