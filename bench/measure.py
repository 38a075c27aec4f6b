"""What the benchmark measures with: figures of a list of samples, the served webmail and its
probes, raw IMAP, and the CPU of the processes involved (from /proc/<pid>/stat)."""

from __future__ import annotations

import imaplib
import os
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from dev.stack import Stack
from webmail.mail.mailbox import SUMMARY_ITEMS

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def figures(
    samples: list[float], stall: float | None = None, stall_cpu: float | None = None
) -> dict[str, float]:
    ordered = sorted(samples)

    def rank(share: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * share) - 1))]

    found = {
        "median": statistics.median(ordered),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "runs": float(len(ordered)),
    }
    if stall is not None:
        found["stall"] = stall
    if stall_cpu is not None:
        found["stall_cpu"] = stall_cpu
    return found


@contextmanager
def served(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """bench.serve in a process of its own, answering on ``port``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serve", str(port)],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the webmail did not start")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)


def take(client: httpx2.Client) -> dict[str, Any]:
    """The server's own times since the last take, and the loop's longest stall meanwhile."""
    answer: dict[str, Any] = client.get("/_bench/take").json()
    return answer


def server_times(
    client: httpx2.Client, action: Callable[[], Any], runs: int, warm_up: int = 3
) -> dict[str, float]:
    for _ in range(warm_up):
        action()
    take(client)
    for _ in range(runs):
        action()
    taken = take(client)
    return figures(taken["samples"], taken["stall"], taken["cpu"])


def idle_stall(client: httpx2.Client, seconds: float = 2.0) -> dict[str, float]:
    """The probe with no request at all: the floor under every stall figure of the run."""
    take(client)
    time.sleep(seconds)
    taken = take(client)
    return {"stall": taken["stall"], "stall_cpu": taken["cpu"]}


def raw_imap(stack: Stack, address: str, password: str, runs: int) -> dict[str, float]:
    """SELECT, SORT of the whole mailbox, FETCH of the 50 newest (what the list shows) on a
    logged-in connection: what the list costs without any webmail, timed by the client."""
    imap = imaplib.IMAP4(stack.imap_host, stack.imap)
    imap.starttls(ssl.create_default_context(cafile=str(stack.ca_cert)))
    imap.login(address, password)
    samples: list[float] = []
    try:
        for run in range(runs + 2):
            start = time.perf_counter()
            imap.select("INBOX")
            typ, data = imap.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL")
            newest = data[0].split()[:50] if typ == "OK" and data[0] else []
            imap.uid("FETCH", b",".join(newest).decode(), SUMMARY_ITEMS)
            if run >= 2:  # two warm-up runs
                samples.append((time.perf_counter() - start) * 1000)
    finally:
        imap.logout()
    return figures(samples)


def cpu_seconds(pid: int) -> float:
    """User and system time of a process and of its children it waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_of_tree(root: int) -> float:
    return sum(cpu_seconds(pid) for pid in tree(root))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
