"""The layout in Chromium: the split view on a tablet and a desktop, separate screens on a
phone, the action bar within the thumb's reach, no horizontal scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from dev.stack import Stack
from tests.conftest import MailUser, imap_for, simple_mail
from tests.test_browser import browser, no_horizontal_scroll, server, sign_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "server"]  # fixtures, shared with the browser tests

TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def new_page(browser: object, viewport: dict[str, int], **options: object) -> Page:
    touch = viewport["width"] < 1000
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport=viewport, has_touch=touch, is_mobile=viewport["width"] < 768, locale="fr-FR",
        **options,
    )
    page: Page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems  # type: ignore[attr-defined]
    return page


@pytest.fixture
def pages(browser: object) -> Iterator[list[Page]]:
    opened: list[Page] = []
    yield opened
    for page in opened:
        page.context.close()


def append(stack: Stack, user: MailUser, count: int) -> None:
    """``count`` messages, "Message 00" the oldest: the list shows the last first."""
    imap = imap_for(stack, user)
    try:
        for n in range(count):
            message = simple_mail("secretariat@chu-demo.mssante.test", user.address, f"Message {n:02d}")
            del message["Date"]
            message["Date"] = f"Tue, 24 Nov 2026 {8 + n // 60:02d}:{n % 60:02d}:00 +0100"
            assert imap.append("INBOX", None, None, message.as_bytes())[0] == "OK"
    finally:
        imap.logout()


def wide_html(stack: Stack, user: MailUser) -> None:
    message = EmailMessage()
    message["From"] = "labo@chu-demo.mssante.test"
    message["To"] = user.address
    message["Subject"] = "Résultats en tableau"
    message["Date"] = "Wed, 25 Nov 2026 09:00:00 +0100"
    message.set_content("Résultats")
    cells = "".join(f"<td style='white-space:nowrap'>Valeur-{n}-normale</td>" for n in range(30))
    message.add_alternative(
        f"<html><body><table width='1400' style='width:1400px'><tr>{cells}</tr></table>"
        f"<p>{'x' * 300}</p><pre>{'ligne très longue ' * 40}</pre></body></html>",
        subtype="html",
    )
    imap = imap_for(stack, user)
    try:
        assert imap.append("INBOX", None, None, message.as_bytes())[0] == "OK"
    finally:
        imap.logout()


def signed_in(browser: object, pages: list[Page], server: str, user: MailUser, viewport: dict[str, int]) -> Page:
    page = new_page(browser, viewport)
    pages.append(page)
    sign_in(page, server, user)
    return page


def test_screens(browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser) -> None:
    append(stack, user, 40)
    wide_html(stack, user)
    for name, viewport in (("phone", PHONE), ("tablet", TABLET), ("desktop", DESKTOP)):
        page = signed_in(browser, pages, server, user, viewport) if not pages else pages[0]
        page.set_viewport_size(viewport)
        page.goto(server + "/mail")
        page.screenshot(path=f"/tmp/layout-{name}-list.png")
        page.locator("li.row a.row-link").nth(3).click()
        page.wait_for_timeout(800)
        page.screenshot(path=f"/tmp/layout-{name}-message.png")
        page.goto(server + "/mail")
        page.locator("li.row a.row-link").first.click()
        page.wait_for_timeout(800)
        page.screenshot(path=f"/tmp/layout-{name}-html.png")
    print(page.problems)  # type: ignore[attr-defined]
