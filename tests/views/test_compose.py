"""Writing and sending through the real Postfix, delivered by LMTP into the real Dovecot."""

from __future__ import annotations

import email
import email.policy
import os
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import (
    MailUser,
    csrf_token,
    deliver,
    form_value,
    imap_for,
    simple_mail,
    soup,
    wait_for_messages,
)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def send(
    client: TestClient, files: list[tuple[str, tuple[str, bytes, str]]] | None = None, **fields: str
) -> object:
    data = {"csrf_token": csrf_token(client), "mode": "new", "action": "send", **fields}
    return client.post("/compose", data=data, files=files or None)


def test_send_arrives_with_attachment_byte_for_byte(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    pdf = b"%PDF-1.4\n" + os.urandom(1024 * 1024) + b"\n%%EOF\n"
    response = send(
        logged_in,
        to=other_user.address,
        subject="Courrier de sortie — M. Dupont",
        body="Chère consœur,\n\nVeuillez trouver ci-joint le compte rendu.\n",
        files=[("attachments", ("compte rendu été.pdf", pdf, "application/pdf"))],
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/mail?folder=INBOX&notice=sent"

    received = parse(wait_for_messages(stack, other_user)[0])
    assert received["Subject"] == "Courrier de sortie — M. Dupont"
    assert received["From"].addresses[0].addr_spec == user.address
    assert "Veuillez trouver ci-joint" in received.get_body(("plain",)).get_content()
    attachment = next(received.iter_attachments())
    assert attachment.get_filename() == "compte rendu été.pdf"
    assert attachment.get_content() == pdf

    sent = parse(wait_for_messages(stack, user, "Sent")[0])
    assert sent["Message-ID"] == received["Message-ID"]


def test_bcc_is_delivered_but_not_shown(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    from tests.conftest import new_user

    hidden = new_user(stack)
    send(logged_in, to=other_user.address, bcc=hidden.address, subject="Cci", body="x")
    to_visible = parse(wait_for_messages(stack, other_user)[0])
    to_hidden = parse(wait_for_messages(stack, hidden)[0])
    assert to_visible["Bcc"] is None and to_hidden["Bcc"] is None
    assert hidden.address in parse(wait_for_messages(stack, user, "Sent")[0])["Bcc"]


def test_reply_threads_and_marks_answered(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    original = simple_mail(other_user.address, user.address, "Demande d'avis", "Que pensez-vous ?")
    original["Cc"] = "tiers@chu-demo.mssante.test"
    uid = deliver(stack, user, original)
    form = logged_in.get(f"/compose?mode=reply&folder=INBOX&uid={uid}")
    assert form_value(form.text, "to") == other_user.address
    assert form_value(form.text, "cc") == ""
    assert form_value(form.text, "subject") == "RE: Demande d'avis"
    assert "> Que pensez-vous ?" in soup(form.text).find("textarea").get_text()
    data = {
        name: form_value(form.text, name)
        for name in (
            "csrf_token",
            "mode",
            "origin_folder",
            "origin_uid",
            "in_reply_to",
            "references",
            "to",
            "subject",
        )
    }
    data.update(body="Avis favorable.", action="send")
    assert logged_in.post("/compose", data=data).status_code == 303

    reply = parse(wait_for_messages(stack, other_user)[0])
    assert reply["In-Reply-To"] == original["Message-ID"]
    assert original["Message-ID"] in reply["References"]
    imap = imap_for(stack, user)
    imap.select("INBOX", readonly=True)
    flags = imap.uid("FETCH", str(uid), "(FLAGS)")[1][0]
    imap.logout()
    assert b"\\Answered" in flags


def test_reply_all_keeps_others_but_not_me(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    original = simple_mail(
        "a@chu-demo.mssante.test", f"{user.address}, b@chu-demo.mssante.test", "Staff"
    )
    original["Cc"] = "c@chu-demo.mssante.test"
    uid = deliver(stack, user, original)
    form = logged_in.get(f"/compose?mode=replyall&folder=INBOX&uid={uid}")
    assert form_value(form.text, "to") == "a@chu-demo.mssante.test"
    assert form_value(form.text, "cc") == "b@chu-demo.mssante.test, c@chu-demo.mssante.test"


def test_forward_carries_the_attachments(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    original = simple_mail("labo@labo-demo.mssante.test", user.address, "Résultats")
    original.add_attachment(
        b"%PDF-1.4 resultats", maintype="application", subtype="pdf", filename="résultats.pdf"
    )
    uid = deliver(stack, user, original)
    form = logged_in.get(f"/compose?mode=forward&folder=INBOX&uid={uid}")
    assert form_value(form.text, "subject") == "TR: Résultats"
    data = {
        name: form_value(form.text, name)
        for name in ("csrf_token", "mode", "origin_folder", "origin_uid", "subject")
    }
    data.update(to=other_user.address, body="Pour information.", action="send")
    assert logged_in.post("/compose", data=data).status_code == 303
    forwarded = parse(wait_for_messages(stack, other_user)[0])
    attachment = next(forwarded.iter_attachments())
    assert attachment.get_filename() == "résultats.pdf"
    assert attachment.get_content() == b"%PDF-1.4 resultats"


def test_invalid_address_keeps_the_text(logged_in: TestClient) -> None:
    response = send(
        logged_in, to="pas-une-adresse", subject="Important", body="Texte long à garder"
    )
    assert response.status_code == 400
    page = soup(response.text)
    assert "Adresse invalide" in page.find(attrs={"role": "alert"}).get_text()
    assert page.find("textarea").get_text() == "Texte long à garder"
    assert form_value(response.text, "subject") == "Important"


def test_refused_recipient_keeps_the_draft(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    response = send(
        logged_in,
        to="inconnu@infirmier.mssante.test",
        subject="Perdu ?",
        body="Ne pas perdre ce texte",
    )
    assert response.status_code == 422
    page = soup(response.text)
    assert "refusés" in page.find(attrs={"role": "alert"}).get_text()
    assert page.find("textarea").get_text() == "Ne pas perdre ce texte"
    draft = parse(wait_for_messages(stack, user, "Drafts")[0])
    assert draft["Subject"] == "Perdu ?"


def test_partly_refused_recipients_are_named(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    response = send(
        logged_in,
        to=f"{other_user.address}, inconnu@infirmier.mssante.test",
        subject="Moitié",
        body="x",
    )
    assert response.status_code == 200
    warning = soup(response.text).find(attrs={"role": "alert"}).get_text()
    assert "inconnu@infirmier.mssante.test" in warning and "envoyé" in warning
    assert parse(wait_for_messages(stack, other_user)[0])["Subject"] == "Moitié"
    # The form offers to resend to the refused address alone, never again to the others.
    assert form_value(response.text, "to") == "inconnu@infirmier.mssante.test"
    assert form_value(response.text, "subject") == "Moitié"


def test_oversized_upload_is_refused_without_losing_the_text(
    logged_in: TestClient, settings: object
) -> None:
    big = os.urandom(10 * 1024 * 1024 + 10)
    response = send(
        logged_in,
        to="x@chu-demo.mssante.test",
        subject="Lourd",
        body="Mon texte",
        files=[("attachments", ("scanner.bin", big, "application/octet-stream"))],
    )
    assert response.status_code == 413
    page = soup(response.text)
    assert page.find("textarea").get_text() == "Mon texte"
    assert "10 Mo" in page.find(attrs={"role": "alert"}).get_text()


def test_save_draft(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    data = {
        "csrf_token": csrf_token(logged_in),
        "mode": "new",
        "action": "save",
        "to": "",
        "subject": "Brouillon en cours",
        "body": "À finir",
    }
    response = logged_in.post("/compose", data=data)
    assert response.status_code == 303
    draft = wait_for_messages(stack, user, "Drafts")[0]
    assert parse(draft)["Subject"] == "Brouillon en cours"


def test_send_needs_the_csrf_token(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    response = logged_in.post(
        "/compose",
        data={"mode": "new", "action": "send", "to": other_user.address, "subject": "forgé"},
    )
    assert response.status_code == 403


@pytest.fixture
def postfix_down(stack: Stack) -> Iterator[None]:
    stack.stop_postfix()
    try:
        yield
    finally:
        stack.start_postfix()


def test_smtp_down_keeps_a_draft(
    logged_in: TestClient, stack: Stack, user: MailUser, postfix_down: None
) -> None:
    response = send(
        logged_in, to="x@chu-demo.mssante.test", subject="Pendant la panne", body="Texte important"
    )
    assert response.status_code == 503
    page = soup(response.text)
    assert "injoignable" in page.find(attrs={"role": "alert"}).get_text()
    assert "brouillons" in page.find(attrs={"role": "alert"}).get_text()
    assert page.find("textarea").get_text() == "Texte important"
    assert parse(wait_for_messages(stack, user, "Drafts")[0])["Subject"] == "Pendant la panne"


def test_dovecot_down_while_writing_keeps_the_text(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    token = csrf_token(logged_in)
    stack.stop_dovecot()
    try:
        response = logged_in.post(
            "/compose",
            data={
                "csrf_token": token,
                "mode": "new",
                "action": "send",
                "to": other_user.address,
                "subject": "Pendant la panne IMAP",
                "body": "Texte à ne pas perdre",
            },
        )
    finally:
        stack.start_dovecot()
    assert response.status_code == 503
    page = soup(response.text)
    assert page.find("textarea").get_text() == "Texte à ne pas perdre"
    assert "rien n'a été envoyé" in page.find(attrs={"role": "alert"}).get_text()


def test_delivered_message_is_readable_in_the_app(
    client: TestClient, stack: Stack, user: MailUser
) -> None:
    from tests.conftest import login

    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Lisible"))
    login(client, user)
    assert [m.subject for m in client.get("/mail").context["page"].messages] == ["Lisible"]


def test_expired_session_gives_the_text_back(logged_in: TestClient) -> None:
    token = csrf_token(logged_in)
    logged_in.cookies.clear()  # as if the session had expired on the server
    response = logged_in.post(
        "/compose",
        data={
            "csrf_token": token,
            "mode": "new",
            "action": "send",
            "to": "a@chu-demo.mssante.test",
            "subject": "Écrit longuement",
            "body": "Trois paragraphes précieux",
        },
    )
    assert response.status_code == 401
    page = soup(response.text)
    assert page.find("textarea").get_text() == "Trois paragraphes précieux"
    assert "Écrit longuement" in page.get_text()


def test_idle_warning_and_keepalive(logged_in: TestClient, settings: object) -> None:
    page = soup(logged_in.get("/compose").text)
    assert page.body["data-idle-seconds"] == "1800"
    assert page.select_one(".idle-warning") is not None
    token = form_value(str(page), "csrf_token")
    assert logged_in.post("/session/keepalive", headers={"X-CSRF-Token": token}).status_code == 204
    assert logged_in.post("/session/keepalive").status_code == 403  # no token, no keepalive
