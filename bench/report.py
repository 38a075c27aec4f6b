"""The sections of docs/benchmarks.md that ``make bench`` (bench.full) writes.

Each section is replaced in place (bench.directory.write_section): the sections other
benchmarks write (the national directory, the weight in the browser) are left as they are.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import targets
from bench.directory import write_section
from bench.sessions import process_bytes, redis_costs
from webmail.settings import Settings

INBOX = "## Inbox of 10,000 messages"
SESSIONS = "## Twenty sessions at once"
READING = "## Reading messages with big attachments"
STALL = "## A big message does not slow anyone else down"
MEMORY = "## Memory"
OLD_MEMORY = "## Idle sessions and IMAP connections"
TARGETS = targets.SECTION


def idle_costs(env: dict[str, str]) -> dict[str, float]:
    """Redis per session (1,000 sessions), process memory per idle IMAP connection (100)."""
    settings = Settings.from_env(env)
    used, usage = asyncio.run(redis_costs(settings, 1000))
    users = [
        (f"load{n % 20}@medecin.mssante.test", f"load-{n % 20}-password-2026") for n in range(100)
    ]
    opened, closed = asyncio.run(process_bytes(settings, users))
    return {"redis_used": used, "redis_usage": usage, "open": opened, "closed": closed}


def _version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return "?"
    return (out.split() or ["?"])[0 if command[0] == "dovecot" else 2].removeprefix("v=")


def machine(loaded: str) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    libraries = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("starlette", "jinja2", "uvicorn", "redis")
    )
    load = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    return (
        f"Measured by `make bench` on {dt.date.today().isoformat()}: {cpu}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, Dovecot {_version(['dovecot', '--version'])}, "
        f"Redis {_version(['redis-server', '--version'])}, {libraries}; IMAP with STARTTLS "
        f"and Redis on loopback. Load average at the end of the run: {load}"
        + (f" ({loaded})" if loaded else "")
        + ". The app, Dovecot, Redis and the load generator share the machine's cores: compare "
        "the figures of one run with each other (the ratios), not with another run's."
    )


def _row(name: str, f: dict[str, float], stall: bool = False) -> str:
    cells = f"| {name} | {f['median']:.2f} | {f['p95']:.2f} | {f['p99']:.2f} | {f['runs']:.0f} |"
    return cells + (f" {f.get('stall_cpu', 0):.1f} | {f.get('stall', 0):.1f} |" if stall else "")


def inbox(r: dict[str, Any]) -> str:
    raw = r["raw_imap"]["median"]
    seeded = r["seed_seconds"]
    return "\n".join(
        [
            INBOX,
            "",
            "The webmail served by uvicorn in a process of its own (`bench/serve.py`); times are "
            "the server's own, request in to last byte out, in milliseconds; one session. The "
            "mailbox: 10,000 messages, a fifth with a 0.1–3 MB PDF ("
            + (f"seeded in {seeded:.0f} s" if seeded else "seeded by an earlier run, reused")
            + ").",
            "",
            "| request | median | p95 | p99 | runs |",
            "|---|---|---|---|---|",
            _row("Raw IMAP SELECT + SORT + FETCH 50, no webmail (client side)", r["raw_imap"]),
            _row("Inbox, first page, cached list (the usual case)", r["list"]),
            _row("Inbox, the same page as htmx fragment", r["fragment"]),
            _row("Page turn (htmx fragment of a page seen before)", r["page_turn"]),
            _row("A page never seen (50 envelopes fetched)", r["unseen"]),
            "",
            f"- Cached page / raw IMAP: {r['list']['median'] / raw:.2f} (fragment "
            f"{r['fragment']['median'] / raw:.2f}); p99 / p50 of the cached page: "
            f"{r['list']['p99'] / r['list']['median']:.2f}.",
            f"- First page after login (SORT of 10,000, 50 envelopes, folders): "
            f"{r['first_load']:.1f} ms; page size {r['page_bytes'] / 1024:.1f} KiB of HTML.",
            "- A cached page renders its 50 rows from the row cache (`webmail/rows.py`: keyed by "
            "account, folder, UIDVALIDITY, UID, flags, language, day) with icons from the "
            "`static/icons.svg` sprite; the rest is one Redis GET of the session, NOOP and STATUS "
            "(no SORT, no FETCH when nothing changed), the folder list from the session's cache.",
            "",
        ]
    )


def sessions(r: dict[str, Any]) -> str:
    t = r["throughput"]
    lat = t["latencies"]
    count = len(lat)
    cpu = t["cpu"]
    total = sum(cpu.values()) or 1.0
    split = ", ".join(
        f"{name} {seconds:.1f} s ({seconds / total:.0%})" for name, seconds in cpu.items()
    )
    from bench.measure import figures

    f = figures(lat) if lat else {"median": 0.0, "p95": 0.0, "p99": 0.0, "runs": 0.0}
    return "\n".join(
        [
            SESSIONS,
            "",
            f"{t['sessions']} signed-in sessions (20 accounts, an INBOX of 500 each), each on its own "
            "keep-alive connection from a load-generator process (`bench/load.py`), as fast as "
            f"answers come, for {t['elapsed']:.0f} s: the inbox, a page turn as htmx fragment, the "
            "inbox again, a message opened; client-side times (ms).",
            "",
            "| requests | req/s | p50 | p95 | p99 | errors |",
            "|---|---|---|---|---|---|",
            f"| {count} | {count / t['elapsed']:.0f} | {f['median']:.1f} | {f['p95']:.1f} | "
            f"{f['p99']:.1f} | {len(t['errors'])} |",
            "",
            f"- CPU while it ran (`/proc/<pid>/stat`): {split}.",
            f"- Application CPU per request: {cpu['app'] / max(count, 1) * 1000:.2f} ms.",
            "",
        ]
    )


def reading(r: dict[str, Any]) -> str:
    text, big = r["open text"]["median"], r["open 3 MB"]["median"]
    floor = r["idle_stall"]
    lines = [
        READING,
        "",
        "Server time (ms) to open a message by parts (BODYSTRUCTURE, then the parts shown), one "
        "session. The stalls are the longest the event loop was held meanwhile, measured inside "
        "the server process (`bench/serve.py`): in CPU time of the loop's thread (its own "
        "work) and in wall-clock time (what another user waited, including while the machine "
        "gave the process no core).",
        "",
        "| request | median | p95 | p99 | runs | loop stall, CPU | loop stall, wall |",
        "|---|---|---|---|---|---|---|",
        _row("Open a text message", r["open text"], stall=True),
        _row("Open a message with a 1 MB PDF", r["open 1 MB"], stall=True),
        _row("Open a message with a 3 MB PDF", r["open 3 MB"], stall=True),
        _row("Download the 3 MB PDF (streamed in 256 KB slices)", r["download"], stall=True),
        "",
        f"- 3 MB message / text message: {big / text:.2f}× (target ≤ 1.2×).",
        f"- The probe alone, no request for 2 s: {floor['stall_cpu']:.1f} ms CPU, "
        f"{floor['stall']:.1f} ms wall: the floor under the figures above.",
        "- Off the loop: parsing and decoding over 64 KB (`asyncio.to_thread`), attachment "
        "slices decoded in a thread; the IMAP reader no longer formats every chunk received "
        "into a debug message (aioimaplib did, whatever the log level).",
    ]
    return "\n".join(lines)


def stall(r: dict[str, Any]) -> str:
    s = r["stall_test"]
    ratio = s["meanwhile"]["median"] / s["alone"]["median"]
    lines = [
        STALL,
        "",
        "User A lists their inbox (client-side ms, one request at a time) alone, then while "
        f"user B, from another process, opens the 3 MB message over and over ({s['b_opens']} "
        f"times, {s['b_errors']} errors).",
        "",
        "| user A's list | median | p95 | p99 | runs |",
        "|---|---|---|---|---|",
        _row("alone", s["alone"]),
        _row("while B opens 3 MB messages", s["meanwhile"]),
        "",
        f"- Ratio: {ratio:.2f}× (target ≤ 1.5×); the loop's longest stall meanwhile: "
        f"{s['stall_cpu']:.1f} ms of CPU, {s['stall']:.1f} ms of wall-clock time.",
    ]
    return "\n".join(lines)


def memory(r: dict[str, Any]) -> str:
    idle = r["idle"]
    return "\n".join(
        [
            MEMORY,
            "",
            "| what | cost |",
            "|---|---|",
            f"| process RSS growth per active session (20 sessions of the throughput run) | "
            f"{r['rss_per_session'] / 1024:.0f} KiB |",
            f"| process, per idle session whose IMAP connection is still open (100 connections, "
            f"tracemalloc): 1,000 such sessions | {idle['open'] * 1000 / 1024 / 1024:.0f} MiB |",
            f"| process, per 1,000 idle sessions once their connections were closed for idleness | "
            f"{idle['closed'] * 1000 / 1024:.0f} KiB |",
            f"| Redis per signed-in session (1,000 sessions), `MEMORY USAGE` of its keys | "
            f"{idle['redis_usage']:.0f} bytes |",
            f"| Redis per signed-in session, growth of `used_memory` | {idle['redis_used']:.0f} bytes |",
            "",
            f"- Server RSS: {r['rss_start'] / 2**20:.0f} MiB at start, {r['rss_end'] / 2**20:.0f} "
            "MiB after the whole run. A session's process memory is bounded by its IMAP "
            "connection, closed after `MSS_IMAP_IDLE_CLOSE_SECONDS` (5 minutes by default); the "
            "connections of a process by `MSS_IMAP_MAX_PER_PROCESS`; the row cache by 5,000 rows.",
            "",
        ]
    )


def write(results: dict[str, Any], path: Path, loaded: str) -> None:
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    first = current.find("\n## ")
    head = (
        f"# Benchmarks\n\n{machine(loaded)} The whole run took {results['bench_seconds']:.0f} s.\n"
    )
    path.write_text(head + (current[first:] if first >= 0 else ""), encoding="utf-8")
    if OLD_MEMORY in path.read_text(encoding="utf-8"):
        write_section(memory(results).rstrip("\n") + "\n\n", path, OLD_MEMORY)
    for text, title in (
        (inbox(results), INBOX),
        (sessions(results), SESSIONS),
        (reading(results), READING),
        (stall(results), STALL),
        (memory(results), MEMORY),
        (targets.section(results), TARGETS),
    ):
        write_section(text.rstrip("\n") + "\n\n", path, title)
