"""Search as you type in Chromium at phone size, then next/previous with the thumb."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail
from tests.test_browser import PHONE, browser, no_horizontal_scroll, phone, server, sign_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "phone", "server"]  # fixtures, shared with the browser tests


def test_search_as_you_type_then_next_on_a_phone(
    server: str, phone: object, stack: Stack, user: MailUser
) -> None:
    for minute, subject in enumerate(["Bilan Dupont", "Courrier Martin", "Dupont sortie"]):
        message = simple_mail("secretariat@chu-demo.mssante.test", user.address, subject)
        del message["Date"]
        message["Date"] = f"Tue, 24 Nov 2026 08:0{minute}:00 +0100"
        deliver(stack, user, message)
    page = phone
    sign_in(page, server, user)
    page.locator('.topbar a[href^="/search"]').tap()  # type: ignore[attr-defined]
    page.wait_for_url("**/search?folder=INBOX")  # type: ignore[attr-defined]
    results = page.locator("#search-results li.row .subject")  # type: ignore[attr-defined]

    # Typed one key at a time, never submitted: each pause brings the answer for what is
    # there; a change of mind replaces what was typed, and only its answer stays.
    field = page.locator("#search-q")  # type: ignore[attr-defined]
    field.press_sequentially("martin", delay=60)
    expect(results).to_have_text(["Courrier Martin"])
    field.fill("")
    field.press_sequentially("dupont", delay=30)
    expect(results).to_have_text(["Dupont sortie", "Bilan Dupont"])
    assert "q=dupont" in page.url  # type: ignore[attr-defined]
    assert no_horizontal_scroll(page)

    results.first.tap()
    page.wait_for_url("**/mail/message?**")  # type: ignore[attr-defined]
    bar = page.locator("nav.message-nav")  # type: ignore[attr-defined]
    expect(bar.locator(".message-nav-position")).to_have_text("1 sur 2")
    box = bar.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"] + 1  # on screen
    older = bar.locator('a[rel="next"]')
    assert (older.bounding_box() or {"height": 0})["height"] >= 40  # thumb-sized
    older.tap()
    expect(page.locator(".message-subject")).to_have_text("Bilan Dupont")  # type: ignore[attr-defined]
    expect(bar.locator(".message-nav-position")).to_have_text("2 sur 2")
    assert no_horizontal_scroll(page)
    csp_violations = [p for p in page.problems if "Content Security Policy" in p]  # type: ignore[attr-defined]
    assert csp_violations == []
