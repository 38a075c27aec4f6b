"""``make bench``: server time of the pages a clinician opens most, on a 10,000-message INBOX.

Runs the real stack (Dovecot, Redis) and the real app in process; the time measured is the
ASGI app's own, from request to the last byte of the answer, so no HTTP client is counted.
Writes its own section of docs/benchmarks.md, the other sections left as they are.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pyotp
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from bench.directory import write_section
from dev.corpus import demo_messages
from dev.env import webmail_env
from dev.seed import seed_mailbox
from dev.stack import Stack
from webmail.app import create_app
from webmail.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Its own section: `make bench` (bench.full) measures the same pages served by uvicorn.
SECTION = "## Inbox, in process (`python -m bench.inbox`)"
USER, PASSWORD = "bench@medecin.mssante.test", "bench-password-2026"


class Timed:
    """ASGI wrapper recording the app's own time per request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.samples: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        await self.app(scope, receive, send)
        self.samples.append((time.perf_counter() - start) * 1000)


def field(html: str, name: str) -> str:
    return str(BeautifulSoup(html, "html.parser").find("input", attrs={"name": name})["value"])


def login(client: httpx2.Client, address: str = USER, password: str = PASSWORD) -> None:
    """Password, then second-factor enrolment with a code computed from the key shown."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "address": address,
            "password": password,
            "login_token": field(page.text, "login_token"),
        },
    )
    assert response.status_code == 303, response.status_code
    enrol = client.get("/login/otp")
    shown = BeautifulSoup(enrol.text, "html.parser").select_one("#secret").get_text()
    done = client.post(
        "/login/otp",
        data={
            "csrf_token": field(enrol.text, "csrf_token"),
            "code": pyotp.TOTP("".join(shown.split())).now(),
        },
    )
    assert done.status_code == 200, done.status_code


def measure(timed: Timed, action: Callable[[], Any], runs: int) -> dict[str, float]:
    timed.samples.clear()
    for _ in range(runs):
        action()
    samples = sorted(timed.samples)
    return {
        "median": statistics.median(samples),
        "p95": samples[int(len(samples) * 0.95) - 1],
        "min": samples[0],
        "runs": len(samples),
    }


def run(messages: int, runs: int, base_port: int) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="mss-bench-"))
    state.chmod(0o755)
    stack = Stack(state_dir=state, base_port=base_port)
    stack.start()
    try:
        stack.add_user(USER, PASSWORD)
        started = time.perf_counter()
        seed_mailbox(
            stack.imap_host,
            stack.imap,
            stack.ca_cert,
            USER,
            PASSWORD,
            (
                m
                for m in demo_messages(
                    USER, messages, now=dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
                )
                if m[0] == "INBOX"
            ),
        )
        seed_seconds = time.perf_counter() - started
        settings = Settings.from_env(webmail_env(stack, MSS_AUDIT_LOG=str(state / "audit.log")))
        timed = Timed(create_app(settings))
        results: dict[str, Any] = {"messages": messages, "seed_seconds": seed_seconds}
        with TestClient(timed, follow_redirects=False) as client:
            login(client)
            first = client.get("/mail?folder=INBOX")
            assert first.status_code == 200
            results["first_page_bytes"] = len(first.content)
            results["first_load_ms"] = timed.samples[-1]
            results["inbox_warm"] = measure(timed, lambda: client.get("/mail?folder=INBOX"), runs)
            results["inbox_fragment"] = measure(
                timed,
                lambda: client.get("/mail?folder=INBOX&page=1", headers={"HX-Request": "true"}),
                runs,
            )
            deep = messages // 50 // 2
            client.get(f"/mail?folder=INBOX&page={deep}")
            results["deep_page_warm"] = measure(
                timed, lambda: client.get(f"/mail?folder=INBOX&page={deep}"), runs
            )
            uid = first.context["page"].messages[0].uid
            results["message_open"] = measure(
                timed, lambda: client.get(f"/mail/message?folder=INBOX&uid={uid}"), runs // 2
            )

            cold: list[float] = []
            for page_number in range(2, 2 + min(runs // 4, 40)):
                # A page never seen: SORT is cached, its 50 envelopes are not.
                client.get(f"/mail?folder=INBOX&page={page_number}")
                cold.append(timed.samples[-1])
            results["unseen_page"] = {
                "median": statistics.median(cold),
                "p95": sorted(cold)[int(len(cold) * 0.95) - 1],
                "min": min(cold),
                "runs": len(cold),
            }

            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            for page_number in range(2, 42):
                client.get(f"/mail?folder=INBOX&page={page_number + 50}")
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()
            grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
            results["cache_bytes_per_2000_envelopes"] = grown
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return results


def write_report(results: dict[str, Any], path: Path) -> None:
    def row(name: str, key: str) -> str:
        figure = results[key]
        return (
            f"| {name} | {figure['median']:.2f} | {figure['p95']:.2f} | {figure['min']:.2f} | "
            f"{figure['runs']} |"
        )

    lines = [
        SECTION,
        "",
        f"Measured by `python -m bench.inbox` on {dt.date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, Dovecot and Redis on "
        "loopback (IMAP with STARTTLS). Time is the ASGI application's own (request in, last byte out), in milliseconds, "
        "for one logged-in session.",
        "",
        f"INBOX of **{results['messages']:,} messages** (seeded in {results['seed_seconds']:.0f} s).",
        "",
        "| page | median ms | p95 ms | min ms | runs |",
        "|---|---|---|---|---|",
        row("Inbox, first page, cached list (the usual case)", "inbox_warm"),
        row("Inbox, page turn as htmx fragment", "inbox_fragment"),
        row(f"Inbox, page {results['messages'] // 100}, cached", "deep_page_warm"),
        row("Inbox page never seen before (50 envelopes fetched)", "unseen_page"),
        row("Open a message (fetch, parse, mark read)", "message_open"),
        "",
        f"- First inbox load after login (SORT of the whole mailbox, 50 envelopes, folder list): "
        f"{results['first_load_ms']:.1f} ms.",
        f"- Inbox page size: {results['first_page_bytes'] / 1024:.1f} KiB of HTML before compression.",
        f"- Memory kept per session for 2,000 cached envelopes: about "
        f"{results['cache_bytes_per_2000_envelopes'] / 1024:.0f} KiB.",
        "",
        "What a cached page costs: one Redis GET of the session (a SET at most every 30 s); NOOP "
        "and STATUS (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ unchanged: no SORT, no FETCH); "
        "the folder list from the session's cache (one LIST-STATUS at most every 30 s, or when "
        "the open folder changed; none for htmx fragments); the template. New mail changes "
        "UIDNEXT and costs one UID SORT; changed flags (HIGHESTMODSEQ) one FETCH FLAGS of the "
        "page; a page never seen fetches its 50 header blocks.",
        "",
    ]
    write_section("\n".join(lines), path, SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--base-port", type=int, default=28000)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    results = run(args.messages, args.runs, args.base_port)
    write_report(results, args.output)
    print(args.output.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
