"""``python -m bench.load SPEC.json``: the load generator, a process of its own.

Each session of the spec (its cookies, the messages it may open) runs in a thread on one
keep-alive HTTP connection, until the spec's duration or request count is reached. Prints
one JSON object: latencies (client side, ms), errors, requests, elapsed seconds, and the
generator's own CPU seconds (so that the benchmark can tell its share of the two cores).

Modes: ``mix`` (a clinician's day: the inbox, a page turn as htmx fragment, a message opened),
``open`` (the same big message opened over and over: the stall test's other user).
"""

from __future__ import annotations

import http.client
import json
import resource
import sys
import threading
import time
from typing import Any


def _requests(mode: str, session: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    if mode == "open":
        return [(f"/mail/message?folder=INBOX&uid={session['open'][0]}", {})]
    opens = [(f"/mail/message?folder=INBOX&uid={uid}", {}) for uid in session["open"]]
    fragment = ("/mail?folder=INBOX&page=2", {"HX-Request": "true"})
    inbox = ("/mail?folder=INBOX", {})
    cycle: list[tuple[str, dict[str, str]]] = []
    for opened in opens:
        cycle += [inbox, fragment, inbox, opened]
    return cycle


class Session(threading.Thread):
    def __init__(self, spec: dict[str, Any], session: dict[str, Any], stop: threading.Event):
        super().__init__(daemon=True)
        self.spec, self.session, self.stop = spec, session, stop
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        host, port = self.spec["host"], self.spec["port"]
        cookie = "; ".join(f"{k}={v}" for k, v in self.session["cookies"].items())
        cycle = _requests(self.spec["mode"], self.session)
        connection = http.client.HTTPConnection(host, port, timeout=30)
        n = 0
        while not self.stop.is_set() and n < self.spec["max_requests_per_session"]:
            path, extra = cycle[n % len(cycle)]
            n += 1
            start = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Cookie": cookie, **extra})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    self.errors.append(f"{response.status} {path}")
            except (OSError, http.client.HTTPException) as error:
                self.errors.append(f"{type(error).__name__} {path}")
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
                continue
            self.latencies.append((time.perf_counter() - start) * 1000)
        connection.close()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    stop = threading.Event()
    sessions = [Session(spec, s, stop) for s in spec["sessions"]]
    started = time.perf_counter()
    for session in sessions:
        session.start()
    deadline = started + spec["seconds"]
    while time.perf_counter() < deadline and any(s.is_alive() for s in sessions):
        time.sleep(0.05)
    stop.set()
    for session in sessions:
        session.join(timeout=40)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "latencies": [x for s in sessions for x in s.latencies],
        "errors": [e for s in sessions for e in s.errors],
        "elapsed": elapsed,
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    json.dump(run(spec), sys.stdout)


if __name__ == "__main__":
    main()
