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
from tests.views.forms import parse
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


def pdf(name: str, size: int) -> dict[str, object]:
    return {"name": name, "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * size}


def test_several_files_one_removed_progress_then_sent_once(
    undo_server: str, phone: object, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    page = phone
    sign_in(page, undo_server, user)
    page.goto(undo_server + "/compose")  # type: ignore[attr-defined]
    page.fill("#to", other_user.address)  # type: ignore[attr-defined]
    page.fill("#subject", "Trois fichiers, deux envoyés")  # type: ignore[attr-defined]
    page.set_input_files("#attachments", [pdf("a.pdf", 1000), pdf("b.pdf", 2000)])  # type: ignore[attr-defined]
    page.set_input_files("#attachments", [pdf("c.pdf", 3000)])  # type: ignore[attr-defined]
    chosen = page.locator("#chosen-files .chosen-file")  # type: ignore[attr-defined]
    assert chosen.count() == 3  # choosing again adds to the list
    page.locator("button.chosen-file-remove").nth(1).tap()  # type: ignore[attr-defined]
    assert chosen.count() == 2
    assert page.evaluate("document.querySelector('#attachments').files.length") == 2  # type: ignore[attr-defined]
    assert no_horizontal_scroll(page)

    # Too big as soon as it is chosen: said at once, and nothing is sent.
    page.set_input_files("#attachments", [pdf("scanner.pdf", 11 * 1024 * 1024)])  # type: ignore[attr-defined]
    assert page.locator("#upload-error").is_visible()  # type: ignore[attr-defined]
    page.locator("button.chosen-file-remove").nth(2).tap()  # type: ignore[attr-defined]
    assert not page.locator("#upload-error").is_visible()  # type: ignore[attr-defined]

    page.click("button[value=send]")  # type: ignore[attr-defined]
    page.wait_for_url("**/compose/undo?**")  # type: ignore[attr-defined]
    [received] = wait_for_messages(stack, other_user, timeout=30)
    message = parse(received)
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == ["a.pdf", "c.pdf"]
    time.sleep(2)
    assert len(wait_for_messages(stack, other_user)) == 1
    assert drafts_uids(stack, user) == []
