"""``make screenshots``: the main screens at phone (390×844) and tablet (820×1180) size,
written as PNG under docs/screenshots/ for the README.

A throw-away local stack (Dovecot, Postfix, Redis) with the demo's fictitious mailbox and
directory, the webmail served on loopback, and Debian's Chromium. Mail dates are fixed so
that two runs draw the same pictures.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import uvicorn
from playwright.sync_api import sync_playwright

from dev.corpus import demo_messages, demo_users
from dev.demo import DEMO_WHITELIST, load_directory
from dev.env import webmail_env
from dev.seed import seed_mailbox
from dev.stack import Stack
from webmail.app import create_app
from webmail.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
SIZES = {"phone": {"width": 390, "height": 844}, "tablet": {"width": 820, "height": 1180}}
NOW = datetime(2026, 11, 24, 11, 30, tzinfo=UTC)
MESSAGES = 40
# Each screen: its path (None: the first message of the inbox), and whether it is also
# drawn in the dark theme.
SCREENS: dict[str, tuple[str | None, bool]] = {
    "inbox": ("/mail", True),
    "message": (None, True),
    "compose": ("/compose", False),
    "directory": ("/directory?q=cardio", False),
}


@contextmanager
def served(settings: Settings, port: int) -> Iterator[str]:
    """The webmail in a thread of this process, until the block ends."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the webmail did not start")
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in(page: Any, url: str, address: str, password: str) -> None:
    """Password, enrolment of the second factor (the key read off the page), recovery codes."""
    page.goto(url + "/login")
    page.fill("#address", address)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/login/otp")
    secret = "".join(page.inner_text("#secret").split())
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    page.click("a.btn-primary")
    page.wait_for_url("**/mail")


def shoot(page: Any, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUTPUT / f"{name}.png"))
    print(f"  {name}.png", flush=True)


def draw(browser: Any, url: str, address: str, password: str) -> None:
    signed_in: dict[str, Any] | None = None
    for size, viewport in SIZES.items():
        phone = size == "phone"
        options = {
            "viewport": viewport,
            "is_mobile": phone,
            "has_touch": phone,
            "device_scale_factor": 1,
            "locale": "fr-FR",
        }
        stranger = browser.new_context(**options)
        page = stranger.new_page()
        page.goto(url + "/login")
        shoot(page, f"{size}-sign-in")
        if signed_in is None:
            sign_in(page, url, address, password)
            signed_in = stranger.storage_state()
        stranger.close()
        context = browser.new_context(**options, storage_state=signed_in)
        page = context.new_page()
        page.goto(url + "/mail")
        message = url + str(page.locator("li.row a.row-link").first.get_attribute("href"))
        for screen, (path, dark) in SCREENS.items():
            for theme in ("light", "dark") if dark else ("light",):
                page.emulate_media(color_scheme=theme)
                page.goto(message if path is None else url + path)
                shoot(page, f"{size}-{screen}" + ("-dark" if theme == "dark" else ""))
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.screenshots", description=__doc__)
    parser.add_argument(
        "--base-port", type=int, default=12000, help="mail servers on base+143, ..."
    )
    parser.add_argument("--port", type=int, default=8100, help="the webmail's port")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print("Chromium is missing: bash dev/install.sh --browser", file=sys.stderr)
        return 1
    state = Path(tempfile.mkdtemp(prefix="mss-screenshots-"))
    state.chmod(0o755)  # the mail servers run unprivileged and must reach their state
    stack = Stack(state_dir=state, base_port=args.base_port)
    stack.start()
    try:
        gp = next(user for user in demo_users() if user.address.startswith("dr."))
        stack.add_user(gp.address, gp.password)
        messages = demo_messages(gp.address, MESSAGES, now=NOW)
        seed_mailbox(stack.imap_host, stack.imap, stack.ca_cert, gp.address, gp.password, messages)
        audit = str(state / "audit.log")  # not on the terminal
        settings = Settings.from_env(
            webmail_env(stack, MSS_AUDIT_LOG=audit, MSS_TRUST_WHITELIST=str(DEMO_WHITELIST))
        )
        load_directory(settings)
        OUTPUT.mkdir(parents=True, exist_ok=True)
        print(f"Writing {OUTPUT.relative_to(ROOT)}/:", flush=True)
        with served(settings, args.port) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                draw(browser, url, gp.address, gp.password)
            finally:
                browser.close()
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
