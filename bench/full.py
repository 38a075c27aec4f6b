"""``make bench``: the whole benchmark in one run, on the dev stack, in under ten minutes.

A 10,000-message INBOX (a fifth with a 0.1-3 MB PDF; seeded once, then reused) served by the
real webmail under uvicorn in a process of its own (bench.serve: the server's own times and
the event loop's longest stall). Then, in one run so that ratios compare like with like:
raw IMAP SELECT+SORT+FETCH 50; the list (page, htmx fragment, page turn, a page never seen);
opening a text, a 1 MB and a 3 MB message; downloading the PDF; 20 sessions at once from a
load-generator process (bench.load) with the CPU of each process; the stall test (a user's
list while another opens 3 MB messages); memory. Writes its sections of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import imaplib
import itertools
import json
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from bench import mailbox, measure, report
from bench.inbox import login
from dev.corpus import demo_messages
from dev.env import webmail_env
from dev.seed import seed_mailbox
from dev.stack import Stack

LOAD_USERS = 20
LOAD_MESSAGES = 500


def load_users(stack: Stack) -> list[tuple[str, str]]:
    """The other sessions' accounts, each with an INBOX of its own (seeded once)."""
    users = [
        (f"load{n}@medecin.mssante.test", f"load-{n}-password-2026") for n in range(LOAD_USERS)
    ]
    stack.add_users(dict(users))
    marker = stack.state_dir / f"bench-load-{LOAD_USERS}x{LOAD_MESSAGES}"
    if not marker.exists():
        corpus = [m for m in demo_messages(users[0][0], LOAD_MESSAGES, now=mailbox.NOW)]
        inbox = [m for m in corpus if m[0] == "INBOX"]
        for address, password in users:
            seed_mailbox(stack.imap_host, stack.imap, stack.ca_cert, address, password, inbox)
        marker.write_text("seeded\n", encoding="utf-8")
    return users


def find_messages(stack: Stack) -> dict[str, int]:
    """UIDs of a text message and of the messages whose PDF is nearest 1 MB and 3 MB."""
    imap = imaplib.IMAP4(stack.imap_host, stack.imap)
    imap.starttls(ssl.create_default_context(cafile=str(stack.ca_cert)))
    imap.login(mailbox.USER, mailbox.PASSWORD)
    imap.select("INBOX", readonly=True)
    _typ, data = imap.uid("FETCH", "1:400", "(UID RFC822.SIZE BODYSTRUCTURE)")
    imap.logout()
    sizes: dict[int, int] = {}
    text = 0
    for line in data:
        raw = line if isinstance(line, bytes) else line[0]
        found = re.search(rb"UID (\d+) RFC822.SIZE (\d+) BODYSTRUCTURE \((.)", raw)
        if not found:
            continue
        uid, size = int(found[1]), int(found[2])
        if b'"APPLICATION" "PDF"' in raw.upper():
            sizes[uid] = size
        elif not text and raw[found.end() - 1 :].upper().startswith(b'"TEXT" "PLAIN"'):
            text = uid
    nearest = {
        name: min(sizes, key=lambda uid, t=target: abs(sizes[uid] * 0.74 - t))  # base64: 4/3
        for name, target in (("1 MB", 1_000_000), ("3 MB", 2_900_000))
    }
    return {"text": text, **nearest}


def single_user(client: httpx2.Client, uids: dict[str, int], runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {"idle_stall": measure.idle_stall(client)}
    first = client.get("/mail?folder=INBOX")  # after login: the SORT of 10,000
    assert first.status_code == 200, first.status_code
    results["first_load"] = measure.take(client)["samples"][-1]
    results["page_bytes"] = len(first.content)
    results["list"] = measure.server_times(client, lambda: client.get("/mail?folder=INBOX"), runs)
    fragment = {"HX-Request": "true"}
    results["fragment"] = measure.server_times(
        client, lambda: client.get("/mail?folder=INBOX&page=1", headers=fragment), runs
    )
    pages = iter(range(2, 10_000))
    turns = itertools.cycle((2, 3))  # back and forth between two pages already seen
    results["page_turn"] = measure.server_times(
        client, lambda: client.get(f"/mail?folder=INBOX&page={next(turns)}", headers=fragment), runs
    )
    results["unseen"] = measure.server_times(
        client,
        lambda: client.get(f"/mail?folder=INBOX&page={next(pages) + 10}", headers=fragment),
        max(10, runs // 5),
        warm_up=0,
    )
    for name, uid in uids.items():
        url = f"/mail/message?folder=INBOX&uid={uid}"
        results[f"open {name}"] = measure.server_times(
            client, lambda u=url: client.get(u), runs // 2
        )
    download = f"/mail/attachment?folder=INBOX&uid={uids['3 MB']}&part=2"
    results["download"] = measure.server_times(
        client, lambda: client.get(download), max(5, runs // 10), warm_up=1
    )
    return results


def throughput(stack: Stack, port: int, pids: Processes, seconds: float) -> dict[str, Any]:
    sessions = []
    for address, password in load_users(stack):
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as c:
            login(c, address, password)
            assert c.get("/mail?folder=INBOX").status_code == 200  # its first SORT
            sessions.append({"cookies": dict(c.cookies), "open": [1, 2, 3]})
    result = run_load({"mode": "mix", "sessions": sessions}, port, seconds, pids)
    result["sessions"] = len(sessions)
    result["cookies"] = [session["cookies"] for session in sessions]
    return result


@dataclass(frozen=True)
class Processes:
    """The processes whose CPU the benchmark splits (Dovecot with its children)."""

    app: int
    dovecot: int
    redis: int

    @classmethod
    def of(cls, stack: Stack, server: subprocess.Popen[bytes]) -> Processes:
        status = stack.status()
        return cls(server.pid, int(status["dovecot"] or 0), int(status["redis"] or 0))

    def cpu(self) -> dict[str, float]:
        return {
            "app": measure.cpu_seconds(self.app),
            "Dovecot": measure.cpu_of_tree(self.dovecot),
            "Redis": measure.cpu_seconds(self.redis),
        }


def run_load(spec: dict[str, Any], port: int, seconds: float, pids: Processes) -> dict[str, Any]:
    """bench.load in a process of its own; its figures and the CPU of each process meanwhile."""
    spec = {**spec, "host": "127.0.0.1", "port": port, "seconds": seconds}
    spec.setdefault("max_requests_per_session", 5000)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec_file:
        json.dump(spec, spec_file)
    before = pids.cpu()
    output = subprocess.run(
        [sys.executable, "-m", "bench.load", spec_file.name],
        capture_output=True,
        check=True,
        cwd=measure.ROOT,
        timeout=seconds + 60,
    )
    after = pids.cpu()
    Path(spec_file.name).unlink()
    result: dict[str, Any] = json.loads(output.stdout)
    generator = result.pop("cpu")
    result["cpu"] = {name: after[name] - before[name] for name in before}
    result["cpu"]["load generator"] = generator
    return result


def stall_test(
    port: int,
    pids: Processes,
    sessions: tuple[dict[str, str], dict[str, str]],
    uid: int,
    runs: int,
) -> dict[str, Any]:
    """User A's list alone, then while user B opens the 3 MB message over and over (both
    signed in already: a second sign-in within the same 30 s would replay the TOTP code)."""
    a_cookies, b_cookies = sessions
    with httpx2.Client(base_url=f"http://127.0.0.1:{port}", cookies=a_cookies) as a:
        for _ in range(5):
            a.get("/mail?folder=INBOX")

        def a_list() -> list[float]:
            samples = []
            for _ in range(runs):
                start = time.perf_counter()
                assert a.get("/mail?folder=INBOX").status_code == 200
                samples.append((time.perf_counter() - start) * 1000)
                time.sleep(0.01)
            return samples

        alone = a_list()
        spec = {"mode": "open", "sessions": [{"cookies": b_cookies, "open": [uid]}]}
        found: dict[str, Any] = {}
        loader = threading.Thread(
            target=lambda: found.update(run_load(spec, port, runs * 0.03 + 4, pids))
        )
        loader.start()
        time.sleep(1.5)  # B's loop under way
        measure.take(a)
        meanwhile = a_list()
        taken = measure.take(a)
        loader.join()
    return {
        "alone": measure.figures(alone),
        "meanwhile": measure.figures(meanwhile),
        "stall": taken["stall"],
        "stall_cpu": taken["cpu"],
        "b_opens": len(found.get("latencies", [])),
        "b_errors": len(found.get("errors", [])),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    stack = Stack(state_dir=mailbox.state_dir(args.base_port), base_port=args.base_port)
    stack.start()
    results: dict[str, Any] = {"messages": args.messages}
    try:
        results["seed_seconds"] = mailbox.ensure_seeded(stack, args.messages)
        load_users(stack)
        uids = find_messages(stack)
        results["uids"] = uids
        results["raw_imap"] = measure.raw_imap(
            stack, mailbox.USER, mailbox.PASSWORD, args.runs // 4
        )
        # The webmail's own state starts afresh (Redis does): every account enrols again.
        shutil.rmtree(stack.state_dir / "webmail", ignore_errors=True)
        env = webmail_env(stack, MSS_AUDIT_LOG=str(stack.state_dir / "audit.log"))
        port = args.base_port + 80
        with measure.served(env, port) as server:
            pids = Processes.of(stack, server)
            rss_start = measure.rss_bytes(server.pid)
            with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                login(client)
                results.update(single_user(client, uids, args.runs))
                bench_cookies = dict(client.cookies)
            rss_before = measure.rss_bytes(server.pid)
            results["throughput"] = throughput(stack, port, pids, args.seconds)
            results["rss_per_session"] = (measure.rss_bytes(server.pid) - rss_before) / LOAD_USERS
            results["rss_start"], results["rss_end"] = rss_start, measure.rss_bytes(server.pid)
            both = (results["throughput"].pop("cookies")[0], bench_cookies)
            results["stall_test"] = stall_test(port, pids, both, uids["3 MB"], args.runs)
        results["idle"] = report.idle_costs(env)
    finally:
        stack.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--base-port", type=int, default=28000)
    parser.add_argument("--output", type=Path, default=measure.ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--loaded", default="", help="what else ran on the machine meanwhile")
    args = parser.parse_args()
    started = time.perf_counter()
    results = run(args)
    results["bench_seconds"] = time.perf_counter() - started
    (Path(tempfile.gettempdir()) / "mss-bench-results.json").write_text(json.dumps(results))
    report.write(results, args.output, args.loaded)
    print(args.output.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
