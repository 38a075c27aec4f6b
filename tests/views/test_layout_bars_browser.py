"""The bars in Chromium: on a phone the main places and the message's actions under the
thumb, on a tablet the actions at the top of the pane with their words; no horizontal
scrolling at 360 px, even with a wide HTML mail."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dev.stack import Stack
from tests.conftest import MailUser
from tests.test_browser import browser, no_horizontal_scroll, server
from tests.views.test_layout_browser import (
    PHONE,
    TABLET,
    append,
    pages,
    problems,
    row,
    signed_in,
    wide_html,
)

pytestmark = pytest.mark.browser
__all__ = ["browser", "pages", "server"]  # fixtures, shared with the browser tests


def targets(page: Page, scope: str) -> list[dict[str, object]]:
    """What can be tapped in ``scope``: its accessible name and its box."""
    found = []
    for element in page.locator(f"{scope} a, {scope} button, {scope} summary").all():
        if not element.is_visible():
            continue
        found.append(
            {
                "name": (element.get_attribute("aria-label") or element.inner_text()).strip(),
                "box": element.bounding_box(),
            }
        )
    return found


def test_on_a_phone_the_actions_and_the_main_places_are_under_the_thumb(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 3)
    wide_html(stack, user)
    page = signed_in(browser, pages, server, user, PHONE)
    page.goto(server + "/mail")
    places = targets(page, ".bottom-nav")
    assert [p["name"] for p in places] == ["Réception", "Dossiers", "Annuaire", "Nouveau"]
    for place in places:
        box = place["box"]
        assert isinstance(box, dict)
        assert box["width"] >= 44 and box["height"] >= 44
        assert box["y"] + box["height"] <= PHONE["height"]  # on screen without scrolling
    page.locator("li.row a.row-link").first.click()
    page.wait_for_url("**/mail/message?**")
    expect(page.locator(".message-subject")).to_have_text("Résultats en tableau")
    assert not page.locator(".bottom-nav").is_visible()  # the action bar takes its place
    actions = targets(page, "#action-bar")
    names = [a["name"] for a in actions]
    assert names == [
        "Répondre",
        "Répondre à tous",
        "Transférer",
        "Archiver",
        "Supprimer",
        "Déplacer",
        "Plus ancien",
    ]  # the newest message: no newer one to go to
    for action in actions:
        box = action["box"]
        assert isinstance(box, dict)
        assert box["width"] >= 44 and box["height"] >= 44, action
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], action
    # Reply and reply all do not look alike.
    reply = page.locator("#action-bar a[aria-label='Répondre'] svg").inner_html()
    reply_all = page.locator("#action-bar a[aria-label='Répondre à tous'] svg").inner_html()
    assert reply != reply_all
    # The bar stays under the thumb while the message scrolls.
    page.mouse.wheel(0, 2000)
    page.wait_for_timeout(200)
    box = page.locator("#action-bar").bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    # Moving from the top of the message, on a phone too.
    page.locator("#action-bar .move-menu summary").click()
    expect(page.locator("#move-target")).to_be_visible()
    assert no_horizontal_scroll(page)
    assert problems(page) == []


def test_no_horizontal_scrolling_at_360_px_with_a_wide_html_mail(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    wide_html(stack, user)
    page = signed_in(browser, pages, server, user, {"width": 360, "height": 740})
    page.goto(server + "/mail")
    assert no_horizontal_scroll(page)
    page.locator("li.row a.row-link").first.click()
    page.wait_for_url("**/mail/message?**")
    frame = page.frame_locator("#mail-frame")
    expect(frame.locator("table")).to_be_attached()
    page.wait_for_timeout(500)  # the frame sized to its content
    assert no_horizontal_scroll(page)
    box = page.locator("#mail-frame").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    for path in ("/mail/folders", "/directory", "/search?folder=INBOX", "/account", "/compose"):
        page.goto(server + path)
        assert no_horizontal_scroll(page), path


def test_on_a_tablet_the_actions_are_at_the_top_of_the_pane_with_their_words(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 2)
    page = signed_in(browser, pages, server, user, TABLET)
    page.goto(server + "/mail")
    assert not page.locator(".bottom-nav").is_visible()
    expect(page.locator(".topbar a[href='/compose']")).to_be_visible()
    expect(page.locator(".topbar a[href='/directory']")).to_be_visible()
    row(page, "Message 01").locator("a.row-link").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 01")
    reply = page.locator("#action-bar a[aria-label='Répondre']")
    reply_all = page.locator("#action-bar a[aria-label='Répondre à tous']")
    expect(reply).to_have_text("Répondre")
    expect(reply_all).to_have_text("Répondre à tous")
    bar = page.locator("#action-bar").bounding_box()
    body = page.locator("#reading-pane .message-body").bounding_box()
    assert bar is not None and body is not None and bar["y"] < body["y"]
    for action in targets(page, "#action-bar"):
        box = action["box"]
        assert isinstance(box, dict) and box["width"] >= 44 and box["height"] >= 44, action
        assert action["name"]
