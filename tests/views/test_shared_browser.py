"""Switching to a shared mailbox in Chromium at phone size: thumb-sized, one tap, no scroll."""

from __future__ import annotations

import pytest

from dev.stack import Stack
from tests.conftest import SharedMailbox, deliver, simple_mail
from tests.test_browser import browser, no_horizontal_scroll, phone, server, sign_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "phone", "server"]  # fixtures, shared with the browser tests


def test_one_tap_to_the_secretariat_on_a_phone(
    server: str, phone: object, stack: Stack, shared_mailbox: SharedMailbox
) -> None:
    owner = shared_mailbox.owner
    deliver(stack, owner, simple_mail("a@chu-demo.mssante.test", owner.address, "Rendez-vous"))
    page = phone
    sign_in(page, server, shared_mailbox.practitioner)
    page.goto(server + "/mail/folders")  # type: ignore[attr-defined]
    buttons = page.locator("#mailboxes button.mailbox")  # type: ignore[attr-defined]
    assert buttons.count() == 2
    for index in range(2):
        box = buttons.nth(index).bounding_box()
        assert box is not None and box["height"] >= 44
    assert buttons.nth(0).get_attribute("aria-current") == "true"
    assert buttons.nth(1).inner_text().split()[-1] == "1"  # its unread count
    buttons.nth(1).tap()
    page.wait_for_url("**/mail?folder=shared*")  # type: ignore[attr-defined]
    assert page.locator(".subject").all_inner_texts() == ["Rendez-vous"]  # type: ignore[attr-defined]
    assert no_horizontal_scroll(page)
    csp_violations = [p for p in page.problems if "Content Security Policy" in p]  # type: ignore[attr-defined]
    assert csp_violations == []
