"""Continuing a draft from the Drafts folder: everything as saved, sent once, none left."""

from __future__ import annotations

import os

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, imap_for, simple_mail, soup, wait_for_messages
from tests.views.forms import browser_form, parse, submit


def drafts_uids(stack: Stack, user: MailUser) -> list[int]:
    imap = imap_for(stack, user)
    try:
        imap.select("Drafts", readonly=True)
        _typ, data = imap.uid("SEARCH", "ALL")
        return [int(uid) for uid in data[0].split()] if data and data[0] else []
    finally:
        imap.logout()


def save_draft(
    client: TestClient, files: list[tuple[str, tuple[str, bytes, str]]] | None = None, **typed: str
) -> None:
    form = client.get("/compose").text
    response = submit(client, form, files=files, action="save", **typed)
    assert response.status_code == 303, response.text


def test_a_reopened_draft_with_its_file_is_sent_once_and_leaves_no_draft(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    pdf = b"%PDF-1.4\n" + os.urandom(4096) + b"\n%%EOF\n"
    save_draft(
        logged_in,
        files=[("attachments", ("bilan.pdf", pdf, "application/pdf"))],
        to=other_user.address,
        cc="",
        subject="Bilan de M. Petit",
        body="Cher confrère,\n\nCi-joint le bilan.\n",
    )
    [uid] = drafts_uids(stack, user)
    saved_id = parse(wait_for_messages(stack, user, "Drafts")[0])["Message-ID"]

    reader = soup(logged_in.get(f"/mail/message?folder=Drafts&uid={uid}").text)
    link = reader.select_one("a.continue-draft")
    assert link is not None and link["href"] == f"/compose/draft?folder=Drafts&uid={uid}"

    page = logged_in.get(str(link["href"]))
    assert page.status_code == 200
    fields = browser_form(page.text)
    assert fields["to"] == other_user.address
    assert fields["subject"] == "Bilan de M. Petit"
    assert fields["body"].strip() == "Cher confrère,\n\nCi-joint le bilan."
    assert fields["message_id"] == saved_id  # saving replaces it, sending removes it
    assert fields["kept_source"] == "draft"
    [kept] = soup(page.text).select(".kept-files input[name=keep]")
    assert kept.has_attr("checked")

    response = submit(logged_in, page.text)
    assert response.status_code == 303, response.text
    [received] = wait_for_messages(stack, other_user)
    message = parse(received)
    assert message["Message-ID"] == saved_id
    assert next(message.iter_attachments()).get_content() == pdf
    assert drafts_uids(stack, user) == []
    # Submitted again (the back button): the ledger knows it left.
    again = submit(logged_in, page.text)
    assert again.headers["location"] == "/mail?folder=INBOX&notice=already-sent"
    assert len(wait_for_messages(stack, other_user)) == 1


def test_a_continued_reply_keeps_its_thread_and_saving_replaces_it(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    save_draft(
        logged_in,
        to="confrere@chu-demo.mssante.test",
        bcc="archives@chu-demo.mssante.test",
        subject="RE: Avis",
        body="D'accord.",
        in_reply_to="<orig@chu-demo.mssante.test>",
        references="<first@chu-demo.mssante.test> <orig@chu-demo.mssante.test>",
    )
    [uid] = drafts_uids(stack, user)
    page = logged_in.get(f"/compose/draft?folder=Drafts&uid={uid}")
    fields = browser_form(page.text)
    assert fields["in_reply_to"] == "<orig@chu-demo.mssante.test>"
    assert fields["references"] == "<first@chu-demo.mssante.test> <orig@chu-demo.mssante.test>"
    assert fields["bcc"] == "archives@chu-demo.mssante.test"

    response = submit(logged_in, page.text, action="save", body="D'accord, je le vois demain.")
    assert response.status_code == 303
    [draft] = wait_for_messages(stack, user, "Drafts")
    assert drafts_uids(stack, user) != [uid]  # replaced, not added
    assert "je le vois demain" in parse(draft).get_body(("plain",)).get_content()


def test_a_draft_whose_sending_is_uncertain_offers_only_resend(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    draft = simple_mail(user.address, "confrere@chu-demo.mssante.test", "Ordonnance")
    del draft["Message-ID"]
    draft["Message-ID"] = browser_form(form)["message_id"]
    uid = deliver(stack, user, draft, "Drafts", flags="\\Draft \\Seen $MSSOutcomeUnknown")

    page = soup(logged_in.get(f"/compose/draft?folder=Drafts&uid={uid}").text)
    assert page.select_one(".outcome-unknown") is not None
    actions = [b["value"] for b in page.select(".compose-actions button[name=action]")]
    assert "send" not in actions and "resend" in actions


def test_a_draft_from_another_client_gets_a_new_message_id(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    draft = simple_mail(user.address, "confrere@chu-demo.mssante.test", "Écrit ailleurs")
    uid = deliver(stack, user, draft, "Drafts", flags="\\Draft")
    fields = browser_form(logged_in.get(f"/compose/draft?folder=Drafts&uid={uid}").text)
    assert fields["subject"] == "Écrit ailleurs"
    assert fields["message_id"] != draft["Message-ID"]
    assert fields["message_id"].startswith("<mss.")


def test_continuer_only_in_drafts_and_a_missing_draft_is_404(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Reçu"))
    reader = soup(logged_in.get(f"/mail/message?folder=INBOX&uid={uid}").text)
    assert reader.select_one("a.continue-draft") is None
    assert logged_in.get("/compose/draft?folder=Drafts&uid=999999").status_code == 404
    assert logged_in.get("/compose/draft?folder=Drafts&uid=0").status_code == 400
