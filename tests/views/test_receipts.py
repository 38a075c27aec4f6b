"""Read receipts asked of us, against the real Postfix and Dovecot: asked, never automatic,
sent once as an RFC 8098 report, $MDNSent kept, not asked again, never offered in Sent."""

from __future__ import annotations

import email
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage, Message
from email.policy import default
from pathlib import Path

from bs4 import Tag
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import (
    MailUser,
    deliver,
    imap_for,
    login,
    new_user,
    simple_mail,
    soup,
    wait_for_messages,
)
from tests.trust.app import webmail
from webmail.app import create_app
from webmail.mail import mime
from webmail.settings import Settings


def asking(sender: str, to: str, subject: str = "Compte rendu", **headers: str) -> EmailMessage:
    message = simple_mail(sender, to, subject)
    message["Disposition-Notification-To"] = sender
    message["Return-Path"] = f"<{sender}>"
    for name, value in headers.items():
        del message[name.replace("_", "-")]
        message[name.replace("_", "-")] = value
    return message


def banner(client: TestClient, uid: int, folder: str = "INBOX") -> Tag | None:
    page = client.get(f"/mail/message?folder={folder}&uid={uid}")
    assert page.status_code == 200
    found = soup(page.text).select_one(".receipt-banner")
    return found if isinstance(found, Tag) else None


def answer(client: TestClient, found: Tag, action: str) -> int:
    form = found.select_one('form[action="/mail/receipt"]')
    assert form is not None
    data = {str(i["name"]): str(i.get("value", "")) for i in form.select("input")}
    return client.post("/mail/receipt", data={**data, "action": action}).status_code


def flags(stack: Stack, user: MailUser, uid: int, folder: str = "INBOX") -> str:
    imap = imap_for(stack, user)
    try:
        imap.select(f'"{folder}"', readonly=True)
        _typ, data = imap.uid("FETCH", str(uid), "(FLAGS)")
        return data[0].decode() if data and isinstance(data[0], bytes) else ""
    finally:
        imap.logout()


def count(stack: Stack, user: MailUser) -> int:
    imap = imap_for(stack, user)
    try:
        typ, data = imap.select("INBOX", readonly=True)
        return int(data[0]) if typ == "OK" else 0
    finally:
        imap.logout()


def report_part(raw: bytes) -> tuple[Message, dict[str, str]]:
    report = email.message_from_bytes(raw, policy=default)
    parts = list(report.iter_parts())
    fields_part = parts[1]
    assert fields_part.get_content_type() == "message/disposition-notification"
    text = fields_part.as_bytes().split(b"\n\n", 1)[1].decode()
    fields = {}
    for line in text.splitlines():
        name, _sep, value = line.partition(":")
        if value:
            fields[name.strip().lower()] = value.strip()
    return report, fields


def test_a_receipt_is_asked_sent_once_and_never_asked_again(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    colleague = new_user(stack, "chu-demo.mssante.test")
    imap_for(stack, colleague).logout()
    original = asking(colleague.address, user.address, "Courrier de sortie")
    original["Original-Recipient"] = f"rfc822;{user.address}"
    uid = deliver(stack, user, original)

    found = banner(logged_in, uid)
    assert found is not None  # asked, and nothing left on its own
    assert "L'expéditeur demande un accusé de lecture." in found.get_text()
    assert found.select_one(".receipt-warning") is None
    assert count(stack, colleague) == 0 and "$MDNSent" not in flags(stack, user, uid)

    token_less = logged_in.post(
        "/mail/receipt", data={"folder": "INBOX", "uid": str(uid), "action": "send"}
    )
    assert token_less.status_code == 403 and count(stack, colleague) == 0

    assert answer(logged_in, found, "send") == 303
    [raw] = wait_for_messages(stack, colleague)
    report, fields = report_part(raw)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "disposition-notification"
    assert report["Return-Path"] == "<>"  # null envelope sender: no report about a report
    assert report["To"] == colleague.address and report["From"] == user.address
    assert report["In-Reply-To"] == original["Message-ID"]
    human = report.get_body(("plain",))
    assert human is not None and "Courrier de sortie" in human.get_content()
    assert fields["disposition"] == "manual-action/MDN-sent-manually; displayed"
    assert fields["final-recipient"] == f"rfc822;{user.address}"
    assert fields["original-recipient"] == f"rfc822;{user.address}"
    assert fields["original-message-id"] == original["Message-ID"]
    assert fields["reporting-ua"].endswith("mss-webmail")
    assert mime.parse_message(raw).kind == "mdn"

    assert "$MDNSent" in flags(stack, user, uid)
    assert banner(logged_in, uid) is None
    # The same form again (a double click, a second tab): nothing more goes out. Even with the
    # keyword taken away behind our back, the ledger knows it was sent.
    assert answer(logged_in, found, "send") == 303
    imap = imap_for(stack, user)
    imap.select("INBOX")
    imap.uid("STORE", str(uid), "-FLAGS", "($MDNSent)")
    imap.logout()
    assert answer(logged_in, found, "send") == 303
    time.sleep(2)
    assert count(stack, colleague) == 1
    assert "$MDNSent" in flags(stack, user, uid)


def test_ignore_answers_without_sending(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    colleague = new_user(stack, "chu-demo.mssante.test")
    imap_for(stack, colleague).logout()
    uid = deliver(stack, user, asking(colleague.address, user.address))
    found = banner(logged_in, uid)
    assert found is not None
    assert answer(logged_in, found, "ignore") == 303
    assert "$MDNSent" in flags(stack, user, uid)
    assert banner(logged_in, uid) is None
    time.sleep(1.5)
    assert count(stack, colleague) == 0


def test_not_offered_in_sent_drafts_or_for_reports(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    sender = "dr.b@chu-demo.mssante.test"
    in_sent = deliver(stack, user, asking(sender, user.address), folder="Sent")
    in_drafts = deliver(stack, user, asking(sender, user.address), folder="Drafts")
    assert banner(logged_in, in_sent, "Sent") is None
    assert banner(logged_in, in_drafts, "Drafts") is None
    already = deliver(stack, user, asking(sender, user.address), flags="$MDNSent")
    assert banner(logged_in, already) is None
    report = asking(sender, user.address)
    report.make_mixed()
    report.replace_header(
        "Content-Type", 'multipart/report; report-type="disposition-notification"'
    )
    assert banner(logged_in, deliver(stack, user, report)) is None


def test_a_suspect_request_is_asked_with_a_warning(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    suspect = asking(
        "dr.b@chu-demo.mssante.test",
        user.address,
        Disposition_Notification_To="collecte@tracker.example",
    )
    many = asking(
        "dr.b@chu-demo.mssante.test",
        user.address,
        Disposition_Notification_To="a@chu-demo.mssante.test, b@chu-demo.mssante.test",
        Return_Path="<a@chu-demo.mssante.test>",
    )
    hostile = asking(
        "dr.b@chu-demo.mssante.test",
        user.address,
        Disposition_Notification_To="=?utf-8?q?x?= <\x01> , "
        + "".join(f"y{n}@z.example, " for n in range(30)),
    )
    found = banner(logged_in, deliver(stack, user, suspect))
    assert found is not None
    warnings = [w.get_text() for w in found.select(".receipt-warning")]
    assert any("ne vient pas de l'adresse" in w for w in warnings)
    assert "collecte@tracker.example" in found.get_text()
    found = banner(logged_in, deliver(stack, user, many))
    assert found is not None
    assert any("plusieurs adresses" in w.get_text() for w in found.select(".receipt-warning"))
    # Thirty addresses, control characters: no banner, and the page still shows.
    assert banner(logged_in, deliver(stack, user, hostile)) is None


def test_a_receipt_outside_the_trust_space_follows_the_mail_rule(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser
) -> None:
    outside = asking("dr.x@ailleurs.example", user.address)
    uid = deliver(stack, user, outside)
    with webmail(env, tmp_path) as client:
        login(client, user)
        found = banner(client, uid)
        assert found is not None
        assert found.select_one('button[value="send"]') is None  # refuse mode: only Ignorer
        assert "hors de l'espace de confiance" in found.get_text()
        form = found.select_one("form")
        assert form is not None
        data = {str(i["name"]): str(i.get("value", "")) for i in form.select("input")}
        refused = client.post("/mail/receipt", data={**data, "action": "send"})
        assert refused.status_code == 422
        assert "$MDNSent" not in flags(stack, user, uid)
    (tmp_path / "warn").mkdir()
    with webmail(env, tmp_path / "warn", MSS_TRUST_OUTSIDE="warn") as client:
        login(client, user)
        found = banner(client, uid)
        assert found is not None
        send = found.select_one('button[value="send"]')
        assert send is not None and send.get_text() == "Envoyer quand même"
        form = found.select_one("form")
        assert form is not None
        data = {str(i["name"]): str(i.get("value", "")) for i in form.select("input")}
        unconfirmed = {**data, "trust_confirm": "0" * 64, "action": "send"}
        assert client.post("/mail/receipt", data=unconfirmed).status_code == 409
        assert "$MDNSent" not in flags(stack, user, uid)


def test_two_tabs_sending_at_once_send_one_receipt(
    logged_in: TestClient, stack: Stack, user: MailUser, settings: Settings
) -> None:
    colleague = new_user(stack, "chu-demo.mssante.test")
    imap_for(stack, colleague).logout()
    uid = deliver(stack, user, asking(colleague.address, user.address))
    found = banner(logged_in, uid)
    assert found is not None
    form = found.select_one('form[action="/mail/receipt"]')
    assert form is not None
    data = {str(i["name"]): str(i.get("value", "")) for i in form.select("input")}
    data["action"] = "send"
    # A second instance of the app (another process behind the same Redis), same session.
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as second:
        second.cookies.update(logged_in.cookies)
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda c: c.post("/mail/receipt", data=data).status_code, [logged_in, second]
                )
            )
    assert sorted(answers) in ([303, 303], [303, 409])
    wait_for_messages(stack, colleague)
    time.sleep(2)
    assert count(stack, colleague) == 1
    assert "$MDNSent" in flags(stack, user, uid)


def test_a_request_with_raw_8bit_and_odd_characters_in_every_header_still_works(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    colleague = new_user(stack, "chu-demo.mssante.test")
    imap_for(stack, colleague).logout()
    odd = b"Dr %s <{&} \xe9t\xe9 \xff"  # raw Latin-1 and 8-bit bytes, never encoded
    raw = (
        b"From: " + odd + b" <" + colleague.address.encode() + b">\r\n"
        b"To: " + user.address.encode() + b"\r\n"
        b"Subject: Compte rendu " + odd + b"\r\n"
        b"Message-ID: <odd-8bit@chu-demo.mssante.test>\r\n"
        b"Return-Path: <" + colleague.address.encode() + b">\r\n"
        b"Disposition-Notification-To: " + odd + b" <" + colleague.address.encode() + b">\r\n"
        b"Content-Type: text/plain\r\n\r\nBonjour %s {0} <b>&amp;\xe9\r\n"
    )
    uid = deliver(stack, user, raw)
    found = banner(logged_in, uid)
    assert found is not None
    assert found.select_one("script") is None
    assert answer(logged_in, found, "send") == 303
    [sent] = wait_for_messages(stack, colleague)
    report, fields = report_part(sent)
    assert report["To"] == colleague.address
    assert fields["original-message-id"] == "<odd-8bit@chu-demo.mssante.test>"
    assert "$MDNSent" in flags(stack, user, uid)
