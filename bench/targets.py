"""The issue's targets, each checked against the figures of one run: met, or the value
measured and what stands in the way."""

from __future__ import annotations

from typing import Any

from bench.measure import figures

SECTION = "## Targets"

# The figures the targets are relative to: the previous measurement of 20 sessions (the
# issue's table, on a machine about twice as slow: compare through the ratio to raw IMAP).
BEFORE_REQ_PER_S = 169.0
BEFORE_RAW_IMAP_MS = 55.5


def _line(name: str, met: bool, measured: str, obstacle: str) -> str:
    return f"| {name} | {'met' if met else 'not met'} | {measured} | {'' if met else obstacle} |"


def section(r: dict[str, Any]) -> str:
    raw = r["raw_imap"]["median"]
    page = r["list"]
    t = r["throughput"]
    lat = figures(t["latencies"]) if t["latencies"] else {"p99": 0.0}
    rate = len(t["latencies"]) / t["elapsed"]
    # Requests per second scaled by raw IMAP speed: the machine was slower.
    before = BEFORE_REQ_PER_S * BEFORE_RAW_IMAP_MS / raw
    opening = r["open 3 MB"]["median"] / r["open text"]["median"]
    stall_test = r["stall_test"]
    stall_ratio = stall_test["meanwhile"]["median"] / stall_test["alone"]["median"]
    opened = ("open text", "open 1 MB", "open 3 MB", "download")
    worst_stall = max(r[key]["stall_cpu"] for key in opened)
    worst_wall = max(r[key]["stall"] for key in opened)
    redis = r["idle"]["redis_usage"]
    per_request = t["cpu"]["app"] / max(len(t["latencies"]), 1) * 1000
    rows = [
        _line(
            "Cached inbox page ≤ 1/10 of raw IMAP SELECT+SORT+FETCH 50",
            page["median"] <= raw / 10,
            f"{page['median']:.2f} ms / {raw:.2f} ms = {page['median'] / raw:.2f}",
            "rows render in well under 1 ms now; what is left is several round trips per "
            "page (the session, the list order and conversation preferences, pending undo and "
            "lost sends in Redis; NOOP and STATUS to Dovecot), each waiting for a core on a "
            "loaded machine: fewer round trips (one Redis pipeline for a page) is the next step",
        ),
        _line(
            "Cached page p99 ≤ 3× p50",
            page["p99"] <= 3 * page["median"],
            f"{page['p99'] / page['median']:.2f}×",
            "the tail is the machine's other work (the probe alone saw the loop wait "
            "tens of ms for a core with no request at all)",
        ),
        _line(
            "20 sessions: ≥ 3× the former req/s, p99 ≤ 100 ms, 0 errors",
            rate >= 3 * before and lat["p99"] <= 100 and not t["errors"],
            f"{rate:.0f} req/s (former, scaled to this machine: {before:.0f}), p99 "
            f"{lat['p99']:.0f} ms, {len(t['errors'])} errors",
            f"one process, {t['cpu']['app'] / t['elapsed']:.0%} of one core while it ran: its "
            f"CPU per request ({per_request:.1f} ms, the issue's 9.3 ms on a slower machine) "
            f"bounds it near {1000 / per_request:.0f} req/s, with the load generator, Dovecot "
            "and Redis on the other core. Past that, the answer is more processes behind nginx "
            "(one per core, on more cores than this machine's two), and less CPU per request",
        ),
        _line(
            "3 MB message with a PDF ≤ 1.2× a text message",
            opening <= 1.2,
            f"{opening:.2f}×",
            "run-to-run noise exceeds the difference (runs of the same day measured 0.87×, "
            "1.18×, 1.47× and 1.91×): opening fetches BODYSTRUCTURE and the text part only, "
            "never the PDF; the 3 MB message's structure and headers are longer to parse",
        ),
        _line(
            "No loop stall over ~5 ms while opening or downloading",
            worst_stall <= 6,
            f"worst {worst_stall:.1f} ms of the loop's CPU ({worst_wall:.1f} ms wall clock)",
            "the garbage collector's full collections (timed with gc.callbacks: 40-90 ms "
            "before start-up objects were frozen, 25-35 ms after): what remains is what serving "
            "keeps alive (sessions' caches, parsed messages); parsing and decoding of big parts "
            "no longer run on the loop",
        ),
        _line(
            "User A's list while B opens 3 MB messages ≤ 1.5× alone",
            stall_ratio <= 1.5,
            f"{stall_ratio:.2f}×",
            "B's opens take CPU in the same process (TLS, BODYSTRUCTURE, the page) while the "
            "machine's other work leaves it less than one core: A waits for a core, not for "
            "a stalled loop (see the CPU stall above)",
        ),
        _line(
            "Redis ≤ 2 KB per session",
            redis <= 2048,
            f"{redis:.0f} bytes",
            "",
        ),
    ]
    return "\n".join(
        [
            SECTION,
            "",
            "Each target of the performance work, against this run's figures.",
            "",
            "| target | | measured | what stands in the way |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    )
