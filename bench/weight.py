"""``make bench``, weight: what the webmail costs on the wire, in Chromium at phone size.

Debian's Chromium driven by Playwright at 390×844 (touch) against the webmail served for real
(`python -m webmail`) and the real mail stack, a mailbox of demo mail. The bytes on the wire
are Chromium's own count (the DevTools protocol's ``Network.loadingFinished``
``encodedDataLength``: headers and compressed body as received), the requests those that left
the browser (not those its cache answered). Measured:

- the first inbox after sign-in, cold: a new browser profile (empty cache) holding the session
  cookie opens /mail;
- a list view, warm: the inbox opened again once the stylesheet and script are cached;
- opening a message: a tap on a row (htmx) until the page is quiet, the message's frame
  included;
- tap → message shown: from the finger down on a row to the first frame painted with the
  message, in the page's own clock, median of several.

Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import socket
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli
import pyotp

from bench.directory import write_section
from bench.inbox import PASSWORD, USER
from dev.corpus import demo_messages
from dev.env import webmail_env
from dev.instances import start_instance
from dev.seed import seed_mailbox
from dev.stack import Stack
from webmail.assets import HASHED_NAME

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Weight in the browser"
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
QUIET_SECONDS = 1.5
# The budgets of the mobile-first interface: bytes, requests, milliseconds.
BUDGETS = {"cold": (30_000, 6), "warm": (8_000, None), "open": (8_000, None)}
TAP_BUDGET_MS = 50.0

# Installed before a tap: the time from the finger down to the first frame painted once the
# message is in the page.
TAP_PROBE = """() => {
  window.__shownAfter = null;
  document.addEventListener("pointerdown", () => {
    const down = performance.now();
    const painted = () => requestAnimationFrame(() => {
      const asked = performance.getEntriesByType("resource")
        .filter((entry) => entry.name.includes("/mail/message")).pop();
      window.__serverWait = asked ? asked.responseStart - asked.requestStart : null;
      window.__shownAfter = performance.now() - down;
    });
    const observer = new MutationObserver(() => {
      if (document.querySelector(".message-subject")) { observer.disconnect(); painted(); }
    });
    observer.observe(document.documentElement, {childList: true, subtree: true});
  }, {capture: true, once: true});
}"""


@dataclass
class Load:
    """What one step cost on the wire."""

    bytes: int = 0
    urls: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, url: str, size: int) -> None:
        self.urls.append(url)
        self.sizes.append(size)
        self.bytes += size

    def parts(self) -> str:
        return ", ".join(
            f"`{urllib.parse.urlsplit(url).path}` {size / 1000:.1f} KB"
            for url, size in zip(self.urls, self.sizes, strict=True)
        )

    @property
    def requests(self) -> int:
        return len(self.urls)


class Wire:
    """Chromium's own account of the network, through the DevTools protocol."""

    def __init__(self, cdp: Any) -> None:
        self.reset()
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        redirect = event.get("redirectResponse")
        if redirect is not None:  # the same id goes on: count the hop that ended here
            self.hops.add(redirect["url"], int(redirect.get("encodedDataLength", 0)))
        self.urls[event["requestId"]] = event["request"]["url"]

    def _response(self, event: dict[str, Any]) -> None:
        response = event["response"]
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            self.cached.add(event["requestId"])
        self.received[event["requestId"]] = int(response.get("encodedDataLength", 0))

    def _data(self, event: dict[str, Any]) -> None:
        request = event["requestId"]
        self.received[request] = self.received.get(request, 0) + int(event["encodedDataLength"])

    def _finished(self, event: dict[str, Any]) -> None:
        self.finished[event["requestId"]] = int(event["encodedDataLength"])

    def reset(self) -> None:
        self.urls: dict[str, str] = {}
        self.cached: set[str] = set()
        self.received: dict[str, int] = {}
        self.finished: dict[str, int] = {}
        self.hops = Load()

    def load(self) -> Load:
        """Since the last reset: requests that left the browser and their bytes (a request
        still open, the live inbox's stream, counts what it received so far)."""
        total = Load(self.hops.bytes, list(self.hops.urls), list(self.hops.sizes))
        for request, url in self.urls.items():
            if request in self.cached or url.startswith("data:"):
                continue
            total.add(url, self.finished.get(request, self.received.get(request, 0)))
        return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def served(base_port: int, messages: int) -> Iterator[str]:
    """The mail stack with one seeded mailbox, and the webmail in front: its base URL."""
    state = Path(tempfile.mkdtemp(prefix="mss-bench-weight-"))
    state.chmod(0o755)
    stack = Stack(state_dir=state, base_port=base_port)
    stack.start()
    instance = None
    try:
        stack.add_user(USER, PASSWORD)
        now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
        inbox = (m for m in demo_messages(USER, messages, now=now) if m[0] == "INBOX")
        seed_mailbox(stack.imap_host, stack.imap, stack.ca_cert, USER, PASSWORD, inbox)
        port = free_port()
        env = webmail_env(stack, MSS_UNDO_SEND_SECONDS="0")
        instance = start_instance(env, port, state / "audit.log")
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + "/healthz")
        yield url
    finally:
        if instance is not None:
            instance.stop()
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)


def phone_context(browser: Any, **more: Any) -> Any:
    return browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="fr-FR",
        **more,
    )


def sign_in(browser: Any, url: str) -> tuple[dict[str, Any], Load, Load]:
    """The first sign-in (password, enrolment, recovery codes) in a profile of its own: the
    session it leaves, what the sign-in page cost cold, and the inbox shown right after (its
    stylesheet and script cached by the sign-in pages)."""
    context = phone_context(browser)
    page = context.new_page()
    wire = Wire(context.new_cdp_session(page))
    page.goto(url + "/login")
    quiet(page)
    login_page = wire.load()
    page.fill("#address", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/otp")
    secret = "".join(page.inner_text("#secret").split())
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_selector("a.btn-primary")
    wire.reset()
    page.click("a.btn-primary")
    page.wait_for_url("**/mail")
    quiet(page)
    after = wire.load()
    session = context.storage_state()
    context.close()
    return session, login_page, after


def quiet(page: Any) -> None:
    page.wait_for_load_state("load")
    page.wait_for_timeout(QUIET_SECONDS * 1000)  # not time.sleep: events arrive meanwhile


def measure(base_port: int, messages: int, taps: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with served(base_port, messages) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        session, login_page, after = sign_in(browser, url)
        results: dict[str, Any] = {"login": login_page, "after sign-in": after}
        plain, context, _page, _wire = cold_inbox(
            browser, url, session, extra_http_headers={"Accept-Encoding": "identity"}
        )
        results["cold uncompressed"] = plain
        context.close()
        results["cold"], context, page, wire = cold_inbox(browser, url, session)
        results["unhashed"] = [u for u in results["cold"].urls if unhashed_static(u)]
        wire.reset()
        page.goto(url + "/mail")
        quiet(page)
        results["warm"] = wire.load()
        wire.reset()
        page.locator("li.row a").first.tap()
        page.wait_for_selector(".message-subject")
        quiet(page)
        results["open"] = wire.load()
        results["tap ms"], results["server ms"] = tap_times(page, url, taps)
        context.close()
        browser.close()
    return results


def cold_inbox(browser: Any, url: str, session: dict[str, Any], **more: Any) -> tuple[Any, ...]:
    context = phone_context(browser, storage_state=session, **more)
    page = context.new_page()
    wire = Wire(context.new_cdp_session(page))
    page.goto(url + "/mail")
    quiet(page)
    return wire.load(), context, page, wire


def tap_times(page: Any, url: str, taps: int) -> tuple[list[float], list[float]]:
    """Tap → message shown, on a warm page, a different message each time; and how much of
    it the browser waited for the server's first byte."""
    times, waits = [], []
    for n in range(taps):
        page.goto(url + "/mail")
        quiet(page)
        page.evaluate(TAP_PROBE)
        page.locator("li.row a").nth(n % 20).tap()
        page.wait_for_function("() => window.__shownAfter !== null")
        times.append(float(page.evaluate("() => window.__shownAfter")))
        waits.append(float(page.evaluate("() => window.__serverWait") or 0))
    return times, waits


def unhashed_static(url: str) -> bool:
    path = urllib.parse.urlsplit(url).path
    return path.startswith("/static/") and HASHED_NAME.match(path.rsplit("/", 1)[-1]) is None


def verdict(value: float, budget: float | None, unit: str = "") -> str:
    if budget is None:
        return ""
    if value <= budget:
        return "within"
    return f"**over by {value - budget:,.0f}{unit}**"


def row(label: str, load: Load, budget: tuple[int | None, int | None] = (None, None)) -> str:
    size, count = budget
    limits = [f"≤ {size / 1000:.0f} KB" if size else "", f"≤ {count} requests" if count else ""]
    verdicts = []
    if size:
        verdicts.append(verdict(load.bytes, size, " B"))
    if count:
        verdicts.append("requests " + verdict(load.requests, count))
    return (
        f"| {label} | {load.bytes / 1000:.1f} KB | {load.requests} | "
        f"{', '.join(limit for limit in limits if limit)} | {'; '.join(verdicts)} |"
    )


def htmx_share() -> int:
    """htmx alone, as the bundle's compression would send it."""
    return len(brotli.compress((ROOT / "static" / "htmx.min.js").read_bytes(), quality=11))


def section(results: dict[str, Any], messages: int) -> str:
    taps = results["tap ms"]
    median = statistics.median(taps)
    cold: Load = results["cold"]
    lines = [
        SECTION,
        "",
        "Chromium (Debian's) at 390×844, touch, driven by Playwright against `python -m "
        f"webmail` (HTTP/1.1, no nginx) on loopback and the real mail stack, an inbox of "
        f"{messages} demo messages. Bytes on the wire as Chromium counts them (DevTools "
        "`Network.loadingFinished` `encodedDataLength`: headers and compressed bodies); "
        "requests that left the browser (those its cache answered not counted). "
        "`python -m bench.weight`.",
        "",
        "| view | on the wire | requests | budget | |",
        "|---|---|---|---|---|",
        row("First inbox after sign-in, cold (empty cache)", cold, BUDGETS["cold"]),
        row("― the same without compression", results["cold uncompressed"]),
        row(
            "First inbox right after signing in through the pages (bundles cached by them)",
            results["after sign-in"],
        ),
        row("Sign-in page, cold", results["login"]),
        row("A list view, warm (the inbox again)", results["warm"], BUDGETS["warm"]),
        row("Opening a message (a tap on a row)", results["open"], BUDGETS["open"]),
        "",
        f"- Tap → message shown (finger down to the first frame painted with the message, "
        f"loopback, warm): median {median:.0f} ms over {len(taps)} taps "
        f"(min {min(taps):.0f}, max {max(taps):.0f}); budget ≤ {TAP_BUDGET_MS:.0f} ms: "
        f"{verdict(median, TAP_BUDGET_MS, ' ms')}. Of it, waiting for the server's first byte "
        f"(Resource Timing): median {statistics.median(results['server ms']):.0f} ms; the "
        "rest is htmx swapping the page in, layout and paint.",
        f"- The cold inbox's requests: {cold.parts()}.",
        f"- The warm list view's: {results['warm'].parts()}; opening a message: "
        f"{results['open'].parts()}.",
        f"- Where the cold inbox's bytes go: htmx alone is {htmx_share() / 1000:.1f} KB "
        "(brotli 11) of the script; each answer carries some 0.7 KB of headers over HTTP/1.1 "
        "(the security headers mostly), which HTTP/2 behind nginx compresses (HPACK). In a "
        "real sign-in the stylesheet and script come with the sign-in page and are cached by "
        "the time the inbox shows (the third row).",
        "- The live inbox's stream (`/mail/events`) stays open: counted with what it had "
        "received when measured.",
        f"- Requests of the signed-in page to an unhashed `/static/` name: "
        f"{len(results['unhashed'])}.",
        f"- Measured on {os.cpu_count()} cores shared with other work (load average "
        f"{os.getloadavg()[0]:.1f} at the end): the bytes are exact, the times indicative.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--taps", type=int, default=15)
    parser.add_argument("--base-port", type=int, default=28300)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    text = section(measure(args.base_port, args.messages, args.taps), args.messages)
    write_section(text, args.output, SECTION)
    print(text)


if __name__ == "__main__":
    main()
