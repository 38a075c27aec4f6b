"""Chromium at phone size: type, see the autosave, send, take it back, edit again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from dev.env import webmail_env
from dev.stack import Stack
from tests.conftest import MailUser, wait_for_messages
from tests.served import served_webmail
from tests.test_browser import browser, no_horizontal_scroll, phone, sign_in
from tests.views.test_drafts_open import drafts_uids

pytestmark = pytest.mark.browser
__all__ = ["browser", "phone"]  # fixtures, shared with the browser tests


@pytest.fixture(scope="module")
def undo_server(stack: Stack) -> Iterator[str]:
    with served_webmail(webmail_env(stack, MSS_UNDO_SEND_SECONDS="10")) as (url, _port):
        yield url


def test_type_autosave_send_then_cancel_on_a_phone(
    undo_server: str, phone: object, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    page = phone
    sign_in(page, undo_server, user)
    page.goto(undo_server + "/compose")  # type: ignore[attr-defined]
    page.fill("#to", other_user.address)  # type: ignore[attr-defined]
    page.fill("#subject", "Lettre de liaison")  # type: ignore[attr-defined]
    page.fill("#body", "Chère consœur,\n\nJe vous adresse Mme Martin.")  # type: ignore[attr-defined]
    status = page.locator("#autosave-status")  # type: ignore[attr-defined]
    status.filter(has_text="Brouillon enregistré à").wait_for(timeout=20_000)
    assert status.get_attribute("aria-live") == "polite"
    assert len(drafts_uids(stack, user)) == 1

    page.click("button[value=send]")  # type: ignore[attr-defined]
    page.wait_for_url("**/compose/undo?**")  # type: ignore[attr-defined]
    countdown = page.locator(".undo-send-countdown").inner_text()  # type: ignore[attr-defined]
    assert countdown.startswith("Envoi dans ") and countdown.endswith(" s")
    assert no_horizontal_scroll(page)
    page.locator("button.undo-send-cancel").tap()  # type: ignore[attr-defined]
    page.wait_for_selector("form.compose-form")  # type: ignore[attr-defined]
    assert page.input_value("#to") == other_user.address  # type: ignore[attr-defined]
    assert page.input_value("#subject") == "Lettre de liaison"  # type: ignore[attr-defined]
    body = page.input_value("#body")  # type: ignore[attr-defined]
    assert body.strip() == "Chère consœur,\n\nJe vous adresse Mme Martin."
    time.sleep(11)  # past the delay: nothing leaves
    assert wait_for_messages(stack, other_user, count=0) == []
    assert len(drafts_uids(stack, user)) == 1
    csp_violations = [p for p in page.problems if "Content Security Policy" in p]  # type: ignore[attr-defined]
    assert csp_violations == []
