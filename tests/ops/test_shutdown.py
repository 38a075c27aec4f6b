"""SIGTERM while a request is in flight: it completes, then IMAP connections get LOGOUT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import ROOT, TEST_BASE_PORT, MailUser, login, soup
from tests.served import wait_until_responds

PORT = TEST_BASE_PORT + 471


def lines(stack: Stack, user: MailUser, what: str) -> int:
    """How many of Dovecot's log lines about ``user`` say ``what``."""
    log = stack._dovecot_log.read_text(encoding="utf-8", errors="replace")
    return sum(1 for line in log.splitlines() if user.address in line and what in line)


def test_sigterm_lets_the_request_finish_then_logs_out_of_imap(
    env: dict[str, str], client: TestClient, user: MailUser, stack: Stack
) -> None:
    # Signed in through one instance; the session (in Redis) is good on the served one.
    login(client, user)
    cookies = dict(client.cookies)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.ops.slow_server", "--port", str(PORT),
         "--graceful-seconds", "20"],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{PORT}"
        wait_until_responds(url + "/healthz")
        answers: list[tuple[int, str]] = []
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())

        def get_mail() -> None:
            request = urllib.request.Request(url + "/mail", headers={"Cookie": cookie})  # noqa: S310
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                answers.append((response.status, response.read().decode()))

        slow = threading.Thread(target=get_mail)
        slow.start()
        # Once the IMAP connection is open the view is in its slow part: then SIGTERM.
        logins = lines(stack, user, "Login: user=")
        wait_for(lambda: lines(stack, user, "Login: user=") > logins or bool(answers), 10)
        assert not answers  # still in flight
        before = lines(stack, user, "Logged out")
        process.send_signal(signal.SIGTERM)
        slow.join(30)
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert process.wait(timeout=30) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert answers and answers[0][0] == 200
    assert soup(answers[0][1]).select_one("form[action='/logout']") is not None
    # The pool's connection said LOGOUT rather than being dropped.
    wait_for(lambda: lines(stack, user, "Logged out") > before, 5)


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
