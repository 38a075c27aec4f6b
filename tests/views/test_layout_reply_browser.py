"""The reply screen in Chromium: titled for what is written, the cursor where one writes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail
from tests.test_browser import browser, server, sign_in
from tests.views.test_layout_browser import PHONE, TABLET, new_page, pages, problems, signed_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "pages", "server"]  # fixtures, shared with the browser tests


def focused(page: Page) -> dict[str, object]:
    return dict(
        page.evaluate(
            "({id: document.activeElement.id, tag: document.activeElement.tagName,"
            " start: document.activeElement.selectionStart})"
        )
    )


def open_message(page: Page, server: str) -> None:
    page.goto(server + "/mail")
    page.locator("li.row a.row-link").first.click()
    expect(page.locator(".message-subject")).to_have_text("Bilan sanguin")


@pytest.mark.parametrize(
    ("label", "title"),
    [("Répondre", "Répondre"), ("Répondre à tous", "Répondre à tous")],
)
@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["phone", "tablet"])
def test_a_reply_is_titled_so_and_the_cursor_is_above_the_quote(
    browser: object,
    pages: list[Page],
    server: str,
    stack: Stack,
    user: MailUser,
    viewport: dict[str, int],
    label: str,
    title: str,
) -> None:
    deliver(stack, user, simple_mail("labo@chu-demo.mssante.test", user.address, "Bilan sanguin"))
    page = signed_in(browser, pages, server, user, viewport)
    open_message(page, server)
    page.locator(f"#action-bar a[aria-label='{label}']").click()
    page.wait_for_url("**/compose?**")
    expect(page).to_have_title(f"{title} · MSSanté")
    expect(page.locator(".topbar-title")).to_have_text(title)
    expect(page.locator("#body")).to_be_focused()
    assert focused(page)["start"] == 0  # above the quote
    assert "a écrit" in page.locator("#body").input_value()  # the quote is there, below
    page.keyboard.type("Merci, vu.")
    assert page.locator("#body").input_value().startswith("Merci, vu.")
    assert problems(page) == []


def test_a_forward_starts_at_its_recipient_and_a_new_message_takes_no_focus(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("labo@chu-demo.mssante.test", user.address, "Bilan sanguin"))
    page = signed_in(browser, pages, server, user, PHONE)
    open_message(page, server)
    page.locator("#action-bar a[aria-label='Transférer']").click()
    page.wait_for_url("**/compose?**")
    expect(page).to_have_title("Transférer · MSSanté")
    expect(page.locator("#to")).to_be_focused()
    page.goto(server + "/mail")
    page.locator(".bottom-nav a[href='/compose']").click()
    page.wait_for_url("**/compose")
    expect(page).to_have_title("Nouveau message · MSSanté")
    expect(page.locator(".topbar-title")).to_have_text("Nouveau message")
    assert focused(page)["tag"] == "BODY"  # nothing chosen for the user
    # A reply sent back with an error keeps the cursor where the user left it: no autofocus.
    page.goto(server + "/mail")
    page.locator("li.row a.row-link").first.click()
    page.locator("#action-bar a[aria-label='Répondre']").click()
    page.wait_for_url("**/compose?**")
    page.fill("#to", "pas-une-adresse")
    page.locator("button[value=send]").click()
    expect(page.locator(".alert-error")).to_be_visible()
    expect(page).to_have_title("Répondre · MSSanté")
    expect(page.locator("#body")).not_to_have_attribute("autofocus", "")


def test_without_script_the_reply_screen_is_titled_and_focused(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("labo@chu-demo.mssante.test", user.address, "Bilan sanguin"))
    page = new_page(browser, PHONE, java_script_enabled=False)
    pages.append(page)
    sign_in(page, server, user)
    open_message(page, server)
    page.locator("#action-bar a[aria-label='Répondre à tous']").click()
    page.wait_for_url("**/compose?**")
    expect(page).to_have_title("Répondre à tous · MSSanté")
    expect(page.locator("#body")).to_be_focused()  # the browser's own autofocus
