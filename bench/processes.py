"""``python -m bench.processes``: what a session keeps in a process's memory, and in Redis.

Runs the real stack with a 10,000-message INBOX. An active session lists page after page,
every folder, and opens messages, through the pool and the mailbox cache as requests do; its
memory is traced (tracemalloc) after each step, to show where the per-session bounds stop it.
Then several active sessions in one process (RSS growth each), 1,000 sessions that made a
request and went idle (RSS and traced bytes before and after the idle reaper), and Redis's
``MEMORY USAGE`` of a session. Writes the "Processes and memory" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import gc
import secrets
import shutil
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench.directory import write_section
from dev.corpus import demo_messages
from dev.env import webmail_env
from dev.seed import seed_mailbox
from dev.stack import Stack
from webmail.auth.sessions import KEY_PREFIX, USER_INDEX_PREFIX, SessionStore
from webmail.mail import by_parts, mailbox
from webmail.mail.connections import ConnectionPool, MailSession
from webmail.mail.mailbox import MailboxCache
from webmail.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Processes and memory"
USER, PASSWORD = "procs@medecin.mssante.test", "procs-bench-password-2026"
PAGE = 50
# Dovecot allows 10 connections per user and address: the active sessions share one account.
ACTIVE_SESSIONS = 8


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def rss() -> int:
    """The process's resident memory, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def browse(session: MailSession, pages: int, opened: int) -> None:
    """What a busy clinician does: pages of the inbox, every folder, messages opened."""
    for page in range(1, pages + 1):
        await mailbox.list_page(session.imap, session.cache, "INBOX", page, PAGE)
    for folder in await mailbox.folder_list(session.imap, session.cache):
        await mailbox.list_page(session.imap, session.cache, folder.name, 1, PAGE)
    uids = await mailbox.sorted_folder(session.imap, session.cache, "INBOX")
    for uid in uids[:opened]:
        await by_parts.overview(session.imap, session.cache.overviews, uid)


async def step(pool: ConnectionPool, key: str, pages: int, opened: int) -> None:
    # A function of its own: no MailSession stays referenced once the request is over.
    async with pool.use(key, USER, PASSWORD) as session:
        await browse(session, pages, opened)


async def one_session_steps(settings: Settings) -> list[tuple[str, int]]:
    """Traced bytes the session holds after each step (its idle connection included)."""
    pool = ConnectionPool(dataclasses.replace(settings, imap_idle_close_seconds=0))
    steps: list[tuple[str, int]] = []
    await step(pool, "warm-up", 2, 2)  # first-time allocations (imports, compiled patterns)
    await pool.discard("warm-up", session_ended=False)
    tracemalloc.start()
    try:
        start = traced()
        await step(pool, "active", 0, 0)
        steps.append(("signed in, folder list, every folder's first page", traced() - start))
        for pages, opened in ((1, 0), (10, 0), (40, 0), (200, 0), (200, 50), (200, 400)):
            await step(pool, "active", pages, opened)
            steps.append((f"{pages} inbox pages, {opened} messages opened", traced() - start))
        await pool.close_idle()
        steps.append(("after the idle reaper", traced() - start))
    finally:
        tracemalloc.stop()
        await pool.close_all()
    return steps


async def active_rss(settings: Settings, count: int) -> tuple[int, int]:
    """RSS growth per active session (several in one process), and the traced bytes of one."""
    pool = ConnectionPool(settings)
    try:
        await step(pool, "warm-up", 5, 10)  # imports, first allocations
        await pool.discard("warm-up", session_ended=False)
        before = rss()
        for n in range(count):
            await step(pool, f"active-{n}", 40, 100)
        grown = rss() - before
        tracemalloc.start()
        base = traced()
        await step(pool, "measured", 40, 100)
        one = traced() - base
        tracemalloc.stop()
    finally:
        await pool.close_all()
    return grown // count, one


async def idle_sessions(settings: Settings, count: int) -> dict[str, float]:
    """``count`` sessions that each made a request (the pool's entry for them) and went idle:
    process memory before and after the reaper; Redis bytes per session."""
    redis = Redis.from_url(settings.redis_url)
    pool = ConnectionPool(dataclasses.replace(settings, imap_idle_close_seconds=0))
    store = SessionStore(redis, settings.session_idle_seconds, settings.session_absolute_seconds)
    try:
        sessions = []
        for n in range(count):
            _cookie, session = await store.create(
                f"idle{n}@medecin.mssante.test",
                secrets.token_urlsafe(12),
                client_ip="192.0.2.10",
                user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            )
            sessions.append(session)
        session_bytes = [
            int(await redis.memory_usage(KEY_PREFIX + s.id_hash) or 0) for s in sessions[:100]
        ]
        index_keys = [key async for key in redis.scan_iter(match=USER_INDEX_PREFIX + "*")]
        index_bytes = [int(await redis.memory_usage(key) or 0) for key in index_keys[:100]]
        tracemalloc.start()
        before_rss, base = rss(), traced()
        for session in sessions:
            pool.choose(session.id_hash, "")  # what an authenticated request leaves
        held = traced() - base
        held_rss = rss() - before_rss
        await pool.close_idle()
        after = traced() - base
        tracemalloc.stop()
        for session in sessions:
            await store.delete_by_hash(session.id_hash, session.user)
    finally:
        await pool.close_all()
        await redis.aclose()
    return {
        "redis_session": sum(session_bytes) / len(session_bytes),
        "redis_index": sum(index_bytes) / max(1, len(index_bytes)),
        "held_per_1000": held * 1000 / count,
        "held_rss_per_1000": held_rss * 1000 / count,
        "after_reaper_per_1000": after * 1000 / count,
    }


def run(messages: int, base_port: int) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="mss-bench-processes-"))
    state.chmod(0o755)
    stack = Stack(state_dir=state, base_port=base_port)
    stack.start()
    try:
        stack.add_user(USER, PASSWORD)
        now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
        seed_mailbox(
            stack.imap_host,
            stack.imap,
            stack.ca_cert,
            USER,
            PASSWORD,
            demo_messages(USER, messages, now=now),
        )
        settings = Settings.from_env(webmail_env(stack, MSS_AUDIT_LOG=str(state / "audit.log")))
        steps = asyncio.run(one_session_steps(settings))
        per_active_rss, cache_bytes = asyncio.run(active_rss(settings, ACTIVE_SESSIONS))
        idle = asyncio.run(idle_sessions(settings, 1000))
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return {
        "messages": messages,
        "steps": steps,
        "active_rss": per_active_rss,
        "active_cache": cache_bytes,
        **idle,
    }


def kib(value: float) -> str:
    return f"{value / 1024:,.1f} KiB"


def section(figures: dict[str, Any]) -> str:
    steps = "\n".join(f"| {name} | {kib(size)} |" for name, size in figures["steps"])
    redis_total = figures["redis_session"] + figures["redis_index"]
    return f"""{SECTION}

`python -m bench.processes` ({figures["messages"]:,}-message INBOX, real Dovecot and Redis).
What one session keeps in the process (tracemalloc, IMAP connection included), step by step;
the mailbox cache is bounded per session (`MailboxCache`: {MailboxCache.MAX_FOLDERS} folders,
{MailboxCache.MAX_ENVELOPES_PER_FOLDER} envelopes per folder, UIDs as 4-byte arrays;
{by_parts.Overviews.SIZE} opened messages' headers and structures), and per process by the
connection cap (`MSS_IMAP_MAX_PER_PROCESS`): a session without a connection keeps nothing.

| one session | held in the process |
|---|---|
{steps}

| | measured |
|---|---|
| RSS growth per active session ({ACTIVE_SESSIONS} in one process, 40 pages and 100 messages each) | {kib(figures["active_rss"])} |
| one more such session, traced (its connection included) | {kib(figures["active_cache"])} |
| 1,000 sessions idle, before the reaper (pool entries, no connection) | {kib(figures["held_per_1000"])} traced, {kib(figures["held_rss_per_1000"])} RSS |
| 1,000 sessions idle, after the reaper | {kib(figures["after_reaper_per_1000"])} |
| Redis per session (`MEMORY USAGE` of the session, plus its account's index) | {figures["redis_session"]:,.0f} + {figures["redis_index"]:,.0f} = {redis_total:,.0f} bytes (target ≤ 2,048) |
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--base-port", type=int, default=33000)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    text = section(run(args.messages, args.base_port))
    write_section(text, args.output, SECTION)
    print(text)


if __name__ == "__main__":
    main()
