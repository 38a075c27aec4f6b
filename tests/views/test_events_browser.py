"""The live inbox in Chromium at phone size: a message delivered while the inbox is open."""

from __future__ import annotations

import time

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail
from tests.mail.test_watch import imap_sessions
from tests.test_browser import browser, no_horizontal_scroll, phone, server, sign_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "phone", "server"]  # fixtures, shared with the browser tests


def wait_for_watcher(stack: Stack, user: MailUser) -> None:
    """The page's own connection and its watcher's, then a moment for its first look."""
    deadline = time.monotonic() + 10
    while imap_sessions(stack, user) < 2:
        assert time.monotonic() < deadline, "no watcher for the open inbox"
        time.sleep(0.2)
    time.sleep(0.5)


def test_new_mail_appears_with_its_count_in_the_title(
    server: str, phone: object, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Ancien", "x"))
    page = phone
    sign_in(page, server, user)
    page.goto(server + "/mail")  # type: ignore[attr-defined]
    assert page.locator(".rows li").count() == 1  # type: ignore[attr-defined]
    title = "Boîte de réception · MSSanté"
    # The stream's first event gives the count the page opened with: one unread.
    # A function, not an expression: Playwright polls an expression with eval, which the
    # page's policy forbids, so it only worked when already true at the first look.
    page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=6000)  # type: ignore[attr-defined]
    assert page.title() == "(1) " + title  # type: ignore[attr-defined]
    wait_for_watcher(stack, user)
    deliver(stack, user, simple_mail("b@chu-demo.mssante.test", user.address, "Compte rendu"))
    first = page.locator(".rows li").first  # type: ignore[attr-defined]
    first.locator(".subject", has_text="Compte rendu").wait_for(timeout=6000)
    assert page.locator(".rows li").count() == 2  # type: ignore[attr-defined]
    assert "unread" in (first.get_attribute("class") or "")
    assert page.title() == "(2) " + title  # type: ignore[attr-defined]
    assert page.inner_text("#live-status") == "1 nouveau message"  # type: ignore[attr-defined]
    assert page.get_attribute("#live-status", "aria-live") == "polite"  # type: ignore[attr-defined]
    # The new row is a link like the others (boosted by htmx), and the page fits the phone.
    assert first.locator("a.row-link").get_attribute("href").startswith("/mail/message")
    assert no_horizontal_scroll(page)
    csp_violations = [p for p in page.problems if "Content Security Policy" in p]  # type: ignore[attr-defined]
    assert csp_violations == []
