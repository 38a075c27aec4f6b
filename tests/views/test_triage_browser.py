"""Triage in Chromium at phone size: check two rows, delete them, Annuler brings them back."""

from __future__ import annotations

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail, wait_for_messages
from tests.test_browser import browser, no_horizontal_scroll, phone, server, sign_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "phone", "server"]  # fixtures, shared with the browser tests


def test_select_two_delete_and_undo_on_a_phone(
    server: str, phone: object, stack: Stack, user: MailUser
) -> None:
    for subject in ("Bilan sanguin", "Radio thorax", "Ordonnance"):
        deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, subject))
    page = phone
    sign_in(page, server, user)
    page.goto(server + "/mail")  # type: ignore[attr-defined]
    bar = page.locator("#selection-form")  # type: ignore[attr-defined]
    assert not bar.is_visible()  # nothing chosen yet
    boxes = page.locator("li.row .row-select")  # type: ignore[attr-defined]
    assert boxes.count() == 3
    for index in range(2):
        target = boxes.nth(index).bounding_box()
        assert target is not None and target["width"] >= 44 and target["height"] >= 44
        boxes.nth(index).tap()
    assert bar.is_visible()
    assert bar.locator(".selection-count").inner_text() == "2 sélectionné(s)"
    chosen = page.locator("li.row:has(input:checked) .subject").all_inner_texts()  # type: ignore[attr-defined]
    bar.locator("button[value=delete]").tap()
    notice = page.locator("#undo-notice")  # type: ignore[attr-defined]
    notice.wait_for()
    assert "2 messages supprimés" in notice.inner_text()
    assert len(page.locator("li.row").all()) == 1  # type: ignore[attr-defined]
    assert len(wait_for_messages(stack, user, "Trash", 2)) == 2
    assert no_horizontal_scroll(page)
    notice.locator("button", has_text="Annuler").tap()
    page.wait_for_url("**notice=undone")  # type: ignore[attr-defined]
    subjects = page.locator("li.row .subject").all_inner_texts()  # type: ignore[attr-defined]
    assert len(subjects) == 3
    assert {s.strip() for s in chosen} <= {s.strip() for s in subjects}
    # No script error and no CSP refusal (a missing favicon is not this test's business).
    problems = [p for p in page.problems if "Failed to load resource" not in p]  # type: ignore[attr-defined]
    assert problems == []
