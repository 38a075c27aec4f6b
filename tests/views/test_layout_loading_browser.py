"""Feedback on a slow network, in Chromium: each answer is held back by a route, and what
the page shows meanwhile is checked, then again once the answer is in."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from dev.stack import Stack
from tests.conftest import MailUser
from tests.test_browser import browser, server
from tests.views.test_layout_browser import PHONE, TABLET, append, pages, problems, row, signed_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "pages", "server"]  # fixtures, shared with the browser tests

DELAY_MS = 800  # a weak 4G round trip and then some


class Held:
    """Requests matching a pattern, kept waiting until released."""

    def __init__(self, page: Page, pattern: str | Callable[[str], bool]) -> None:
        self.page, self.pattern, self.routes = page, pattern, []
        page.route(pattern, self.hold)

    def hold(self, route: Route) -> None:
        self.routes.append(route)

    def wait(self) -> None:
        for _ in range(50):
            if self.routes:
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"no request for {self.pattern}")

    def release(self) -> None:
        self.page.wait_for_timeout(DELAY_MS)
        for route in self.routes:
            route.continue_()
        self.routes.clear()
        self.page.unroute(self.pattern)


def the_list(url: str) -> bool:
    return urlsplit(url).path == "/mail"


def loading(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.classList.contains('loading')"))


def bar_shown(page: Page) -> bool:
    return bool(
        page.evaluate(
            "(() => { const s = getComputedStyle(document.body, '::before');"
            " return s.content !== 'none' && s.position === 'fixed' && parseFloat(s.height) > 0 })()"
        )
    )


def busy(page: Page, selector: str) -> bool:
    return page.locator(selector).get_attribute("aria-busy") == "true"


def while_held(
    page: Page, pattern: str, act: Callable[[], None], check: Callable[[], None]
) -> None:
    held = Held(page, pattern)
    act()
    held.wait()
    assert loading(page) and bar_shown(page)
    check()
    held.release()


def settled(page: Page) -> None:
    expect(page.locator("html")).not_to_have_class("loading")
    assert not bar_shown(page)
    assert page.locator("[aria-busy=true]").count() == 0


def test_on_a_phone_a_tap_shows_at_once_that_it_is_under_way(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 55)
    page = signed_in(browser, pages, server, user, PHONE)
    page.goto(server + "/mail")
    link = row(page, "Message 52").locator("a.row-link")
    before = link.bounding_box()

    def row_marked() -> None:
        expect(link).to_have_class("row-link htmx-request")
        assert link.bounding_box() == before  # dimmed in place: nothing moves
        assert busy(page, "body")  # the page is what gets replaced

    while_held(page, "**/mail/message?**", lambda: link.click(), row_marked)
    expect(page.locator(".message-subject")).to_have_text("Message 52")
    settled(page)
    # Back to the list.
    while_held(page, the_list, lambda: page.go_back(), lambda: None)
    expect(page.locator("#message-list")).to_be_visible()
    settled(page)
    # "Plus de messages": the button's row is busy, the rows above it stay.
    more = page.locator("#message-list .rows-more")
    more.scroll_into_view_if_needed()

    def more_busy() -> None:
        assert busy(page, "#message-list .rows-more")
        expect(page.locator("#message-list li.row")).to_have_count(50)

    while_held(page, "**/mail?**after=**", lambda: more.locator("a").click(), more_busy)
    expect(page.locator("#message-list li.row")).to_have_count(55)
    settled(page)
    # A folder.
    page.goto(server + "/mail/folders")
    while_held(
        page,
        "**/mail?folder=Sent**",
        lambda: page.locator(".folders a", has_text="Envoyés").click(),
        lambda: None,
    )
    page.wait_for_url("**folder=Sent**")
    settled(page)
    assert problems(page) == []


def test_on_a_tablet_the_pane_shows_a_message_and_an_action_under_way(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 3)
    page = signed_in(browser, pages, server, user, TABLET)
    page.goto(server + "/mail")
    link = row(page, "Message 01").locator("a.row-link")

    def pane_busy() -> None:
        expect(link).to_have_class("row-link opening")
        expect(link).to_have_attribute("aria-current", "true")  # marked at once
        assert busy(page, "#reading-pane")

    while_held(page, "**/mail/message?**", lambda: link.click(), pane_busy)
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 01")
    settled(page)
    expect(link).not_to_have_class("row-link opening")

    def archiving() -> None:
        assert busy(page, "#reading-pane")
        expect(row(page, "Message 01")).to_have_count(1)  # not gone before the server says so

    archive = page.locator("#reading-pane button[aria-label=Archiver]")
    while_held(page, "**/mail/archive", lambda: archive.click(), archiving)
    expect(row(page, "Message 01")).to_have_count(0)
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 00")
    settled(page)
    assert problems(page) == []


def test_a_failed_request_does_not_leave_the_bar_running(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 2)
    page = signed_in(browser, pages, server, user, TABLET)
    page.goto(server + "/mail")

    def drop(route: Route) -> None:
        route.abort("connectionfailed")

    page.route("**/mail/message?**", drop)
    row(page, "Message 01").locator("a.row-link").click()
    settled(page)
    page.unroute("**/mail/message?**", drop)
    row(page, "Message 01").locator("a.row-link").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 01")
    settled(page)
