"""``make bench``, reading: opening messages with big attachments, by parts and whole.

Stores a text message and messages with a 1 MB and a 3 MB PDF, then measures in one run the
ASGI app's own time to open each of them by parts (BODYSTRUCTURE, then the parts shown) and
whole (``BODY.PEEK[]`` parsed, the path kept for structures the parts path does not read), to
download the 3 MB PDF (streamed), and the event loop's longest stall meanwhile (a probe task
timing ``asyncio.sleep(0)``). Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from bench.directory import write_section
from bench.inbox import PASSWORD, USER, Timed, login
from dev.env import webmail_env
from dev.seed import seed_mailbox
from dev.stack import Stack
from webmail.app import create_app
from webmail.mail import by_parts
from webmail.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Its own section: `make bench` (bench.full) writes "Reading messages with big attachments".
SECTION = "## Reading, by parts and whole (`python -m bench.reading`)"


def message_with(pdf_size: int) -> bytes:
    message = EmailMessage()
    message["From"] = "Dr A <dr.a@medecin.mssante.test>"
    message["To"] = USER
    message["Subject"] = f"Compte rendu ({pdf_size // 1000} ko)"
    message.set_content("Compte rendu ci-joint.\n\nBien confraternellement,\nDr A\n")
    if pdf_size:
        pdf = b"%PDF-1.4\n" + random.Random(pdf_size).randbytes(pdf_size)
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename="cr.pdf")
    return message.as_bytes()


class LoopProbe:
    """The longest wait of ``asyncio.sleep(0)`` on the app's loop: how long a request held it."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.running = True

    async def run(self) -> None:
        while self.running:
            start = time.perf_counter()
            await asyncio.sleep(0)
            self.worst = max(self.worst, (time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.0005)


@contextmanager
def probing(client: TestClient) -> Iterator[LoopProbe]:
    probe = LoopProbe()
    assert client.portal is not None
    future = client.portal.start_task_soon(probe.run)
    try:
        yield probe
    finally:
        probe.running = False
        future.result(timeout=5)


def figures(samples: list[float], stall: float) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": statistics.median(ordered),
        "p95": ordered[max(0, int(len(ordered) * 0.95) - 1)],
        "stall": stall,
    }


def measure(
    client: TestClient, timed: Timed, action: Callable[[], Any], runs: int
) -> dict[str, float]:
    action()  # warm-up: the structure is cached from here on
    timed.samples.clear()
    with probing(client) as probe:
        for _ in range(runs):
            action()
    return figures(list(timed.samples), probe.worst)


def run(runs: int, base_port: int) -> dict[str, dict[str, float]]:
    state = Path(tempfile.mkdtemp(prefix="mss-bench-reading-"))
    state.chmod(0o755)
    stack = Stack(state_dir=state, base_port=base_port)
    stack.start()
    results: dict[str, dict[str, float]] = {}
    try:
        stack.add_user(USER, PASSWORD)
        sizes = (0, 1_000_000, 3_000_000)
        when = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
        seed_mailbox(
            stack.imap_host,
            stack.imap,
            stack.ca_cert,
            USER,
            PASSWORD,
            (("INBOX", (), when, message_with(size)) for size in sizes),
        )
        uids = {size: uid for uid, size in enumerate(sizes, start=1)}
        settings = Settings.from_env(webmail_env(stack, MSS_AUDIT_LOG=str(state / "audit.log")))
        timed = Timed(create_app(settings))
        whole_read = by_parts.read
        with TestClient(timed, follow_redirects=False) as client:
            login(client)
            for mode in ("parts", "whole"):
                by_parts.read = whole_read if mode == "parts" else _never  # type: ignore[assignment]
                for size, uid in uids.items():
                    url = f"/mail/message?folder=INBOX&uid={uid}"
                    results[f"{mode} {size}"] = measure(
                        client, timed, lambda u=url: client.get(u), runs
                    )
            by_parts.read = whole_read  # type: ignore[assignment]
            url = f"/mail/attachment?folder=INBOX&uid={uids[3_000_000]}&part=2"
            results["download"] = measure(client, timed, lambda: client.get(url), max(5, runs // 4))
    finally:
        by_parts.read = whole_read  # type: ignore[assignment]
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return results


async def _never(*_args: Any) -> None:
    return None  # the whole-message path, as for a structure the parts path does not read


def section(results: dict[str, dict[str, float]]) -> str:
    def row(name: str, key: str) -> str:
        f = results[key]
        return f"| {name} | {f['median']:.2f} | {f['p95']:.2f} | {f['stall']:.1f} |"

    text, big = results["parts 0"]["median"], results["parts 3000000"]["median"]
    lines = [
        SECTION,
        "",
        "Server time (ms) to open a message, one session, in one run; the stall is the longest "
        "the event loop was held meanwhile (every other user waits that long).",
        "",
        "| request | median ms | p95 ms | worst loop stall ms |",
        "|---|---|---|---|",
        row("Open a text message, by parts", "parts 0"),
        row("Open a message with a 1 MB PDF, by parts", "parts 1000000"),
        row("Open a message with a 3 MB PDF, by parts", "parts 3000000"),
        row("Open a text message, whole (`BODY.PEEK[]`)", "whole 0"),
        row("Open a message with a 1 MB PDF, whole", "whole 1000000"),
        row("Open a message with a 3 MB PDF, whole", "whole 3000000"),
        row("Download the 3 MB PDF (streamed in 256 KB slices)", "download"),
        "",
        f"- 3 MB message / text message, by parts: {big / text:.2f}× (target ≤ 1.2×).",
        "- Whole, the 3 MB message is read as a 4 MB literal and parsed: the stall is the "
        "literal's reading and parsing on the loop, which opening by parts never does.",
        "- Figures from a 2-core machine shared with other test runs while measuring: compare "
        "the rows of one run with each other, not with another run.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--base-port", type=int, default=28100)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    text = section(run(args.runs, args.base_port))
    write_section(text, args.output, SECTION)
    print(text)


if __name__ == "__main__":
    main()
