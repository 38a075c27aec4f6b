"""``python -m bench.sessions``: what an idle session costs, in Redis and in the process.

Runs the real stack. Creates 1,000 signed-in sessions in Redis (SessionStore, as a login does)
and measures Redis's memory; opens IMAP connections through the pool (one per session, as
after a request) and measures the process's memory with tracemalloc, then again after the idle
reaper closed them. Prints the section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import shutil
import tempfile
import tracemalloc
from pathlib import Path

from redis.asyncio import Redis

from dev.env import webmail_env
from dev.stack import Stack
from webmail.auth.sessions import SessionStore
from webmail.mail.connections import ConnectionPool
from webmail.settings import Settings


async def redis_bytes_per_session(settings: Settings, sessions: int) -> float:
    """Redis's used_memory growth per signed-in session (its key, the user's index)."""
    return (await redis_costs(settings, sessions))[0]


async def redis_costs(settings: Settings, sessions: int) -> tuple[float, float]:
    """Per session: used_memory growth, and MEMORY USAGE of the keys a session adds."""
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.flushdb()
        before = int((await redis.info("memory"))["used_memory"])
        store = SessionStore(redis, 1800, 12 * 3600)
        for n in range(sessions):
            await store.create(
                f"user{n}@medecin.mssante.test",
                secrets.token_urlsafe(12),
                client_ip="192.0.2.10",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            )
        after = int((await redis.info("memory"))["used_memory"])
        keys = [key async for key in redis.scan_iter(match="mss:*", count=1000)]
        usage = sum([int(await redis.memory_usage(key) or 0) for key in keys])
        await redis.flushdb()
        return (after - before) / sessions, usage / sessions
    finally:
        await redis.aclose()


async def process_bytes(settings: Settings, users: list[tuple[str, str]]) -> tuple[float, float]:
    """Bytes per open idle IMAP connection, and per session once the reaper closed it."""
    pool = ConnectionPool(dataclasses.replace(settings, imap_idle_close_seconds=0))
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for n, (address, password) in enumerate(users):
            async with pool.use(f"session-{n}", address, password) as mail:
                await mail.imap.noop()
        opened = tracemalloc.get_traced_memory()[0]
        await pool.close_idle()
        closed = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        await pool.close_all()
    return (opened - start) / len(users), (closed - start) / len(users)


def run(sessions: int, connections: int, base_port: int) -> dict[str, float]:
    state = Path(tempfile.mkdtemp(prefix="mss-bench-sessions-"))
    state.chmod(0o755)
    stack = Stack(state_dir=state, base_port=base_port)
    stack.start()
    try:
        users = [
            (f"idle{n}@medecin.mssante.test", f"pw-{n}-bench-2026") for n in range(connections)
        ]
        for address, password in users:
            stack.add_user(address, password)
        settings = Settings.from_env(webmail_env(stack))
        redis_each = asyncio.run(redis_bytes_per_session(settings, sessions))
        open_each, closed_each = asyncio.run(process_bytes(settings, users))
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return {"redis": redis_each, "open": open_each, "closed": closed_each}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--base-port", type=int, default=29000)
    args = parser.parse_args()
    figures = run(args.sessions, args.connections, args.base_port)
    print(
        f"Redis per signed-in session ({args.sessions} sessions): {figures['redis'] / 1024:.2f} KiB\n"
        f"process per open idle IMAP connection ({args.connections}): "
        f"{figures['open'] / 1024:.1f} KiB\n"
        f"process per session after the idle close: {figures['closed']:.0f} bytes"
    )


if __name__ == "__main__":
    main()
