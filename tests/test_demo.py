"""`make demo` as a new user runs it: servers up, mailboxes seeded, login page served, Ctrl-C."""

from __future__ import annotations

import http.cookiejar
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp
import pytest
from bs4 import BeautifulSoup

from dev.corpus import demo_users
from tests.conftest import ROOT
from tests.served import free_port, wait_until_responds

DEMO_BASE_PORT = int(os.environ.get("MSS_TEST_BASE_PORT", "20000")) + 3000


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_demo_comes_up_serves_login_and_stops_on_ctrl_c() -> None:
    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="mss-demo-test-"))
    state.chmod(0o755)  # the mail servers run unprivileged
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dev.demo",
            "--state",
            str(state / "demo"),
            "--port",
            str(port),
            "--base-port",
            str(DEMO_BASE_PORT),
            "--messages",
            "40",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_responds(url + "/login", timeout=120)
        gp = demo_users()[0]
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = opener.open(url + "/login").read().decode()
        token = BeautifulSoup(login_page, "html.parser").find(
            "input", attrs={"name": "login_token"}
        )["value"]
        body = urllib.parse.urlencode(
            {"address": gp.address, "password": gp.password, "login_token": token}
        ).encode()
        enrol = BeautifulSoup(opener.open(url + "/login", data=body).read().decode(), "html.parser")
        secret = "".join(enrol.select_one("#secret").get_text().split())
        confirm = urllib.parse.urlencode({
            "csrf_token": enrol.find("input", attrs={"name": "csrf_token"})["value"],
            "code": pyotp.TOTP(secret).now()}).encode()
        codes = BeautifulSoup(opener.open(url + "/login/otp", data=confirm).read().decode(),
                              "html.parser")
        assert len(codes.select(".recovery-codes code")) == 10
        inbox = opener.open(url + "/mail").read().decode()
        rows = BeautifulSoup(inbox, "html.parser").select("li.row")
        assert len(rows) > 10
        button = BeautifulSoup(login_page, "html.parser").select_one("#psc-login")
        assert button is not None, "the demo offers no Pro Santé Connect sign-in"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        shutil.rmtree(state, ignore_errors=True)
    assert process.returncode == 0, output
    assert "demo-only" in output.lower() or "exist only" in output.lower()
    assert not port_open(port)
    assert not port_open(DEMO_BASE_PORT + 143) and not port_open(DEMO_BASE_PORT + 379)
    assert not port_open(DEMO_BASE_PORT + 444)  # the Pro Santé Connect look-alike
