"""Asking for a read receipt when sending (RFC 8098): off by default, kept in the draft,
across "Annuler" and a failed send."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, login, soup, wait_for_messages
from tests.views.forms import browser_form, parse, submit
from tests.views.test_drafts_open import drafts_uids
from tests.views.test_undo_send import instance
from webmail.settings import Settings

ASK = "Demander un accusé de lecture"


def receipt_box(html: str) -> object:
    box = soup(html).select_one("form.compose-form input[type=checkbox][name=read_receipt]")
    assert box is not None
    label = box.find_parent("label")
    assert label is not None and label.get_text(strip=True) == ASK
    return box


def test_off_by_default_and_no_header_then(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    assert not receipt_box(form).has_attr("checked")  # type: ignore[attr-defined]
    assert submit(logged_in, form, to=other_user.address, subject="Sans").status_code == 303
    [received] = wait_for_messages(stack, other_user)
    assert parse(received)["Disposition-Notification-To"] is None


def test_asked_the_header_names_the_from_address_only(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    response = submit(
        logged_in, form, to=other_user.address, subject="Avec accusé", read_receipt="yes"
    )
    assert response.status_code == 303, response.text
    [received] = wait_for_messages(stack, other_user)
    message = parse(received)
    assert message.get_all("Disposition-Notification-To") == [user.address]
    [sent] = wait_for_messages(stack, user, "Sent")
    assert parse(sent)["Disposition-Notification-To"] == user.address


def test_a_forged_value_adds_nothing_but_the_from_address(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    forged = "yes\r\nBcc: espion@ailleurs.example"
    submit(logged_in, form, to=other_user.address, subject="Forgé", read_receipt=forged)
    [received] = wait_for_messages(stack, other_user)
    message = parse(received)
    assert message["Disposition-Notification-To"] is None  # only "yes" asks
    assert b"espion" not in received


def test_kept_in_the_draft_and_when_reopened(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    saved = submit(
        logged_in, form, to=other_user.address, subject="Brouillon", read_receipt="yes",
        action="save",
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    [uid] = drafts_uids(stack, user)
    reopened = logged_in.get(f"/compose/draft?folder=Drafts&uid={uid}").text
    assert receipt_box(reopened).has_attr("checked")  # type: ignore[attr-defined]
    # Unticked and saved again: the draft no longer asks.
    fields = browser_form(reopened, action="save")
    del fields["read_receipt"]
    assert logged_in.post("/compose", data=fields).status_code == 303
    [uid] = drafts_uids(stack, user)
    again = logged_in.get(f"/compose/draft?folder=Drafts&uid={uid}").text
    assert not receipt_box(again).has_attr("checked")  # type: ignore[attr-defined]


def test_kept_across_undo_send(
    settings: Settings, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    with instance(settings, 3) as client:
        login(client, user)
        form = client.get("/compose").text
        response = submit(client, form, to=other_user.address, subject="Annulé", read_receipt="yes")
        undo = response.headers["location"]
        page = soup(client.get(undo).text)
        data = {
            "csrf_token": str(page.select_one("input[name=csrf_token]")["value"]),
            "message_id": str(page.select_one("input[name=message_id]")["value"]),
        }
        cancelled = client.post("/compose/undo", data=data)
        assert cancelled.status_code == 200
        assert receipt_box(cancelled.text).has_attr("checked")  # type: ignore[attr-defined]
        resent = submit(client, cancelled.text)
        assert resent.status_code == 303
        [received] = wait_for_messages(stack, other_user, timeout=20)
        assert parse(received)["Disposition-Notification-To"] == user.address
        time.sleep(1)


def test_kept_when_the_form_comes_back_after_a_failure(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    fields = browser_form(
        form, to=other_user.address, read_receipt="yes", action="send", csrf_token="périmé"
    )
    back = logged_in.post("/compose", data=fields, headers={"sec-fetch-site": "same-origin"})
    assert back.status_code == 403  # a stale page: given back, with a token that works
    assert submit(logged_in, back.text).status_code == 303
    [received] = wait_for_messages(stack, other_user)
    assert parse(received)["Disposition-Notification-To"] == user.address
