"""Keyboard shortcuts in Chromium at desktop size: each does what its tap does, never while
typing in a field, and "?" lists them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from dev.stack import Stack
from tests.conftest import MailUser, wait_for_messages
from tests.test_browser import browser, server
from tests.views.test_layout_browser import DESKTOP, PHONE, append, pages, problems, row, signed_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "pages", "server"]  # fixtures, shared with the browser tests


def focused_subject(page: Page) -> str:
    return str(
        page.evaluate(
            "(document.activeElement.closest('li.row') || {querySelector: () => null})"
            ".querySelector('.subject')?.textContent.trim() || ''"
        )
    )


def pane(page: Page) -> object:
    return expect(page.locator("#reading-pane .message-subject"))


def test_moving_through_the_list_and_opening_with_the_keyboard(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 4)
    page = signed_in(browser, pages, server, user, DESKTOP)
    page.goto(server + "/mail")
    page.keyboard.press("j")
    assert focused_subject(page) == "Message 03"
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert focused_subject(page) == "Message 02"
    page.keyboard.press("o")
    pane(page).to_have_text("Message 02")  # type: ignore[attr-defined]
    page.keyboard.press("j")  # the message open: j and k go to its neighbours
    pane(page).to_have_text("Message 01")  # type: ignore[attr-defined]
    page.keyboard.press("k")
    pane(page).to_have_text("Message 02")  # type: ignore[attr-defined]
    page.keyboard.press("u")  # back to the list, on the row open
    assert focused_subject(page) == "Message 02"
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    pane(page).to_have_text("Message 01")  # type: ignore[attr-defined]
    assert "/mail/message?" in page.url
    assert problems(page) == []


@pytest.mark.parametrize(
    ("key", "title"),
    [("r", "Répondre"), ("a", "Répondre à tous"), ("f", "Transférer"), ("c", "Nouveau message")],
)
def test_writing_keys(
    browser: object,
    pages: list[Page],
    server: str,
    stack: Stack,
    user: MailUser,
    key: str,
    title: str,
) -> None:
    append(stack, user, 1)
    page = signed_in(browser, pages, server, user, DESKTOP)
    page.goto(server + "/mail")
    row(page, "Message 00").locator("a.row-link").click()
    pane(page).to_have_text("Message 00")  # type: ignore[attr-defined]
    page.keyboard.press(key)
    page.wait_for_url("**/compose**")
    expect(page).to_have_title(f"{title} · MSSanté")
    # Typed in a field, the letters are text, not shortcuts.
    page.locator("#subject").fill("")
    page.locator("#subject").press_sequentially("jkrafe#/u?c")
    expect(page.locator("#subject")).to_have_value("jkrafe#/u?c")
    assert "/compose" in page.url
    assert not page.locator("#keys-help").is_visible()


def test_archive_and_delete_keys(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 4)
    page = signed_in(browser, pages, server, user, DESKTOP)
    page.goto(server + "/mail")
    row(page, "Message 03").locator("a.row-link").click()
    pane(page).to_have_text("Message 03")  # type: ignore[attr-defined]
    page.keyboard.press("e")
    pane(page).to_have_text("Message 02")  # type: ignore[attr-defined]
    expect(row(page, "Message 03")).to_have_count(0)
    page.keyboard.press("#")
    pane(page).to_have_text("Message 01")  # type: ignore[attr-defined]
    page.keyboard.press("Delete")
    pane(page).to_have_text("Message 00")  # type: ignore[attr-defined]
    assert len(wait_for_messages(stack, user, "Archive", 1)) == 1
    assert len(wait_for_messages(stack, user, "Trash", 2)) == 2
    assert len(wait_for_messages(stack, user, "INBOX", 1)) == 1


def test_search_help_and_back_keys(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 2)
    page = signed_in(browser, pages, server, user, DESKTOP)
    page.goto(server + "/mail")
    page.keyboard.press("?")
    help_box = page.locator("#keys-help")
    expect(help_box).to_be_visible()
    expect(help_box.locator("dt")).to_have_count(11)
    page.keyboard.press("j")  # the help is open: the list does not move under it
    assert focused_subject(page) == ""
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()
    page.keyboard.press("?")
    help_box.locator("button[data-keys-close]").click()
    expect(help_box).to_be_hidden()
    page.keyboard.press("/")
    page.wait_for_url("**/search?**")
    page.keyboard.press("/")
    expect(page.locator("#search-q")).to_be_focused()
    # On a phone-sized window, u leaves the message screen for its list.
    page.set_viewport_size(PHONE)
    page.goto(server + "/mail")
    row(page, "Message 01").locator("a.row-link").click()
    page.wait_for_url("**/mail/message?**")
    page.keyboard.press("u")
    page.wait_for_url(lambda url: urlsplit(url).path == "/mail")
    expect(page.locator("#message-list")).to_be_visible()
    assert problems(page) == []
