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
from tests.views.forms import browser_form, submit


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def folder_count(stack: Stack, user: MailUser, folder: str) -> int:
    imap = imap_for(stack, user)
    try:
        typ, data = imap.select(f'"{folder}"', readonly=True)
        return int(data[0]) if typ == "OK" else 0
    finally:
        imap.logout()


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
    listed = soup(form.text).select(".kept-file")
    assert [label.get_text(" ", strip=True).split(" (")[0] for label in listed] == ["résultats.pdf"]
    response = submit(logged_in, form.text, to=other_user.address, body="Pour information.")
    assert response.status_code == 303
    forwarded = parse(wait_for_messages(stack, other_user)[0])
    attachment = next(forwarded.iter_attachments())
    assert attachment.get_filename() == "résultats.pdf"
    assert attachment.get_content() == b"%PDF-1.4 resultats"


def test_forward_without_an_unticked_attachment(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    original = simple_mail("labo@labo-demo.mssante.test", user.address, "Deux fichiers")
    original.add_attachment(b"un", maintype="application", subtype="pdf", filename="un.pdf")
    original.add_attachment(b"deux", maintype="application", subtype="pdf", filename="deux.pdf")
    uid = deliver(stack, user, original)
    form = logged_in.get(f"/compose?mode=forward&folder=INBOX&uid={uid}")
    data = browser_form(form.text, to=other_user.address, action="send")
    data["keep"] = data["keep"][1]  # the user unticks the first one
    assert logged_in.post("/compose", data=data).status_code == 303
    forwarded = parse(wait_for_messages(stack, other_user)[0])
    assert [a.get_filename() for a in forwarded.iter_attachments()] == ["deux.pdf"]


def rfc822_parts(message: email.message.EmailMessage) -> list[email.message.Message]:
    return [part for part in message.walk() if part.get_content_type() == "message/rfc822"]


@pytest.mark.parametrize("body_cte", ["8bit", "quoted-printable"])
def test_forwarded_message_part_travels_as_message_not_base64(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser, body_cte: str
) -> None:
    inner = simple_mail(
        "cardio@chu-demo.mssante.test", user.address, "Compte rendu écho", "Écho normale."
    )
    inner.set_content("Échographie normale.\n", cte=body_cte)
    outer = simple_mail("secretariat@chu-demo.mssante.test", user.address, "Pour avis")
    outer.add_attachment(inner, filename="compte-rendu.eml")
    uid = deliver(stack, user, outer)
    form = logged_in.get(f"/compose?mode=forward&folder=INBOX&uid={uid}")
    assert submit(logged_in, form.text, to=other_user.address).status_code == 303
    forwarded = parse(wait_for_messages(stack, other_user)[0])
    [part] = rfc822_parts(forwarded)
    assert part.get("Content-Transfer-Encoding", "7bit").lower() in ("7bit", "8bit", "binary")
    embedded = part.get_payload(0)
    assert embedded["Subject"] == "Compte rendu écho"
    assert "Échographie normale." in embedded.get_content()


def test_uploaded_eml_is_attached_as_a_message(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    inner = simple_mail("labo@labo-demo.mssante.test", other_user.address, "Bilan", "Résultats")
    response = send(
        logged_in,
        to=other_user.address,
        subject="Bilan joint",
        body="x",
        files=[("attachments", ("bilan.eml", inner.as_bytes(), "message/rfc822"))],
    )
    assert response.status_code == 303
    [part] = rfc822_parts(parse(wait_for_messages(stack, other_user)[0]))
    assert part.get("Content-Transfer-Encoding", "7bit").lower() != "base64"
    assert part.get_payload(0)["Subject"] == "Bilan"


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
    page = soup(response.text)
    assert "envoyé" in page.find(attrs={"role": "alert"}).get_text()
    [refusal] = page.select(".refusals li")
    assert refusal.strong.get_text() == "inconnu@infirmier.mssante.test"
    assert refusal.code.get_text().startswith("550 ")
    assert "temporaire" not in refusal.get_text()
    assert parse(wait_for_messages(stack, other_user)[0])["Subject"] == "Moitié"
    # The form offers to resend to the refused address alone, never again to the others.
    assert form_value(response.text, "to") == "inconnu@infirmier.mssante.test"
    assert form_value(response.text, "subject") == "Moitié"


def test_partial_refusal_keeps_the_attachments_for_the_resend(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    from tests.conftest import new_user

    pdf = b"%PDF-1.4\n" + os.urandom(200_000)
    first = send(
        logged_in,
        to=f"{other_user.address}, inconnu@infirmier.mssante.test",
        subject="Avec pièce jointe",
        body="Voir pièce jointe.",
        files=[("attachments", ("ordonnance.pdf", pdf, "application/pdf"))],
    )
    assert first.status_code == 200
    kept = soup(first.text).select(".kept-file input[name=keep]")
    assert len(kept) == 1 and kept[0].has_attr("checked")
    assert "ordonnance.pdf" in soup(first.text).select_one(".kept-file").get_text()
    corrected = new_user(stack, "infirmier.mssante.test")
    assert submit(logged_in, first.text, to=corrected.address).status_code == 303
    resent = parse(wait_for_messages(stack, corrected)[0])
    attachment = next(resent.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content()) == ("ordonnance.pdf", pdf)
    # The first recipient got it once, Sent holds both sendings, Drafts holds nothing.
    assert folder_count(stack, other_user, "INBOX") == 1
    assert folder_count(stack, user, "Sent") == 2
    assert folder_count(stack, user, "Drafts") == 0


def test_one_draft_per_message_and_none_once_sent(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    for body in ("Premier jet", "Deuxième jet", "Troisième jet"):
        response = submit(logged_in, form, action="save", subject="Brouillon", body=body)
        assert response.status_code == 303
    [draft] = wait_for_messages(stack, user, "Drafts")
    assert "Troisième jet" in parse(draft).get_body(("plain",)).get_content()
    # Refused twice (unknown address): still one draft, holding the files.
    for _attempt in range(2):
        refused = submit(
            logged_in,
            form,
            to="inconnu@infirmier.mssante.test",
            subject="Brouillon",
            body="Version finale",
            files=[("attachments", ("note.txt", b"note", "text/plain"))] if _attempt == 0 else None,
        )
        assert refused.status_code == 422
        form = refused.text
    assert folder_count(stack, user, "Drafts") == 1
    assert len(soup(form).select(".kept-file")) == 1
    assert submit(logged_in, form, to=other_user.address).status_code == 303
    received = parse(wait_for_messages(stack, other_user)[0])
    assert [a.get_filename() for a in received.iter_attachments()] == ["note.txt"]
    assert folder_count(stack, user, "Drafts") == 0
    assert folder_count(stack, user, "Sent") == 1


def test_late_save_of_a_sent_message_keeps_no_draft(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    assert submit(logged_in, form, to=other_user.address, subject="Envoyé").status_code == 303
    # The idle autosave of the same page arrives after the send.
    late = submit(logged_in, form, to=other_user.address, subject="Envoyé", action="save")
    assert late.headers["location"] == "/mail?folder=INBOX&notice=already-sent"
    assert folder_count(stack, user, "Drafts") == 0
    assert folder_count(stack, user, "Sent") == 1


def test_kept_file_missing_from_drafts_is_said_and_nothing_sent(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    refused = send(
        logged_in,
        to="inconnu@infirmier.mssante.test",
        subject="Pièce jointe perdue",
        body="Texte",
        files=[("attachments", ("scan.pdf", b"%PDF scan", "application/pdf"))],
    )
    assert refused.status_code == 422
    imap = imap_for(stack, user)  # the user deletes the draft from another client
    imap.select("Drafts")
    imap.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    imap.logout()
    response = submit(logged_in, refused.text, to=other_user.address)
    assert response.status_code == 409
    page = soup(response.text)
    assert "n'ont plus été retrouvées" in page.find(attrs={"role": "alert"}).get_text()
    assert page.find("textarea").get_text() == "Texte"
    assert folder_count(stack, other_user, "INBOX") == 0


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


def test_oversized_upload_keeps_the_files_already_kept(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    original = simple_mail("labo@labo-demo.mssante.test", user.address, "Examens")
    original.add_attachment(b"%PDF ex", maintype="application", subtype="pdf", filename="ex.pdf")
    uid = deliver(stack, user, original)
    form = logged_in.get(f"/compose?mode=forward&folder=INBOX&uid={uid}").text
    big = [("attachments", ("scanner.bin", os.urandom(10 * 1024 * 1024 + 10), "text/plain"))]
    refused = submit(logged_in, form, files=big, to=other_user.address)
    assert refused.status_code == 413
    assert submit(logged_in, refused.text).status_code == 303
    forwarded = parse(wait_for_messages(stack, other_user)[0])
    assert [a.get_filename() for a in forwarded.iter_attachments()] == ["ex.pdf"]


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
