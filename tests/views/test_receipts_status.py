"""Delivery status on the Sent original, from the reports that really come back: Postfix's
bounce of a message sent through the webmail, a receipt sent by a colleague through the
webmail; and reports opened themselves, hostile ones included."""

from __future__ import annotations

import email
import secrets
from email.policy import default

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
from tests.views.forms import submit
from webmail.app import create_app
from webmail.settings import Settings


def lines(client: TestClient, folder: str, uid: int) -> list[str]:
    page = client.get(f"/mail/message?folder={folder}&uid={uid}")
    assert page.status_code == 200
    return [li.get_text(" ", strip=True) for li in soup(page.text).select(".delivery-status li")]


def sent_uids(stack: Stack, user: MailUser) -> list[int]:
    imap = imap_for(stack, user)
    try:
        imap.select("Sent", readonly=True)
        _typ, data = imap.uid("SEARCH", "ALL")
        return [int(u) for u in data[0].split()] if data and data[0] else []
    finally:
        imap.logout()


def test_a_postfix_bounce_shows_on_the_sent_original(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    form = logged_in.get("/compose")
    sent = submit(
        logged_in,
        form.text,
        to="personne@ailleurs.example",
        subject="Adressage",
        body="Cher confrère,",
    )
    assert sent.status_code == 303, sent.text
    [bounce] = wait_for_messages(stack, user, timeout=30)
    assert b"delivery-status" in bounce  # Postfix's own report, not one we wrote
    [uid] = sent_uids(stack, user)
    shown = lines(logged_in, "Sent", uid)
    assert len(shown) == 1
    assert shown[0].startswith("Non remis à personne@ailleurs.example : ")
    assert "hors de l'espace de démonstration" in shown[0] or "5.1.2" in shown[0]
    # The report opened itself: its status line and its text for people, no raw fields.
    page = soup(logged_in.get("/mail/message?folder=INBOX&uid=1").text)
    assert [li.get_text(" ", strip=True) for li in page.select(".delivery-status li")] == shown
    body = page.select_one("pre.text-body")
    assert body is not None and "Reporting-MTA" not in body.get_text()
    # Asked again: the answer kept, then what arrived since is read too.
    delivered = report_for(user.address, _message_id(stack, user, uid), "delivered", "x@y.example")
    deliver(stack, user, delivered)
    again = lines(logged_in, "Sent", uid)
    assert again[0] == shown[0] and again[1].startswith("Remis à x@y.example le ")


def test_a_receipt_from_a_colleague_shows_as_read(
    logged_in: TestClient, stack: Stack, user: MailUser, settings: Settings
) -> None:
    colleague = new_user(stack, "chu-demo.mssante.test")
    message_id = f"<{secrets.token_hex(8)}@medecin.mssante.test>"
    original = simple_mail(user.address, colleague.address, "Courrier")
    original.replace_header("Message-ID", message_id)
    original["Disposition-Notification-To"] = user.address
    original["Return-Path"] = f"<{user.address}>"
    sent_uid = deliver(stack, user, original, folder="Sent", flags="\\Seen")
    other_uid = deliver(stack, colleague, original)
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as other:
        login(other, colleague)
        page = soup(other.get(f"/mail/message?folder=INBOX&uid={other_uid}").text)
        form = page.select_one('form[action="/mail/receipt"]')
        assert form is not None
        data = {str(i["name"]): str(i.get("value", "")) for i in form.select("input")}
        assert other.post("/mail/receipt", data={**data, "action": "send"}).status_code == 303
    wait_for_messages(stack, user)
    shown = lines(logged_in, "Sent", sent_uid)
    assert len(shown) == 1 and shown[0].startswith(f"Lu par {colleague.address} le ")
    assert lines(logged_in, "INBOX", 1) == shown  # the receipt itself, readable


def test_reports_about_other_messages_are_not_shown(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    mine = simple_mail(user.address, "a@chu-demo.mssante.test", "Le mien")
    uid = deliver(stack, user, mine, folder="Sent")
    deliver(stack, user, report_for(user.address, "<autre@x.example>", "failed", "b@y.example"))
    # A plain message quoting the Message-ID is no report either.
    deliver(
        stack, user, simple_mail("c@y.example", user.address, "Cite", f"Voir {mine['Message-ID']}")
    )
    assert lines(logged_in, "Sent", uid) == []


def test_hostile_reports_never_break_the_page(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    mine = simple_mail(user.address, "a@chu-demo.mssante.test", "Le mien")
    uid = deliver(stack, user, mine, folder="Sent")
    message_id = str(mine["Message-ID"])
    hostile = [
        _raw_report(message_id, "Action: failed\r\nFinal-Recipient: rfc822; <script>@x\r\n"),
        _raw_report(message_id, "Final-Recipient: rfc822; a@b.example\r\nAction: explode\r\n"),
        _raw_report(message_id, "garbage without fields\r\n\r\n\x00\x01\xff\xfe"),
        _raw_report(
            message_id,
            "Final-Recipient: rfc822; big@b.example\r\nAction: failed\r\nDiagnostic-Code: smtp; "
            + "=?koi8-unknown?b?////?= "
            + "x" * 200_000
            + "\r\n",
            charset="x-unknown-charset",
        ),
        _raw_report(
            message_id,
            "".join(
                f"\r\nFinal-Recipient: rfc822; r{n}@b.example\r\nAction: failed\r\n"
                for n in range(500)
            ),
        ),
    ]
    for raw in hostile:
        deliver(stack, user, raw)
    shown = lines(logged_in, "Sent", uid)
    assert all(len(line) < 400 for line in shown)
    assert not any("<script>" in line for line in shown)
    assert 0 < len(shown) <= 20 * 50
    for report_uid in range(1, len(hostile) + 1):
        page = logged_in.get(f"/mail/message?folder=INBOX&uid={report_uid}")
        assert page.status_code == 200


# -- reports as the servers write them ------------------------------------------------------


def report_for(to: str, message_id: str, action: str, recipient: str) -> bytes:
    """A DSN as another server writes one: for ``recipient``, ``action`` (RFC 3464)."""
    fields = f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: 2.0.0\r\n"
    return _raw_report(message_id, fields, to=to)


def _raw_report(
    message_id: str, fields: str, charset: str = "us-ascii", to: str = "u@medecin.mssante.test"
) -> bytes:
    return (
        f"From: postmaster@x.example\r\nTo: {to}\r\nSubject: rapport\r\n"
        "Date: Wed, 02 Dec 2026 09:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain; charset={charset}\r\n\r\nRapport.\r\n"
        f"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n{fields}"
        f"\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\n\r\n--b--\r\n"
    ).encode("utf-8", "surrogateescape")


def _message_id(stack: Stack, user: MailUser, uid: int) -> str:
    imap = imap_for(stack, user)
    try:
        imap.select("Sent", readonly=True)
        _typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[HEADER])")
        header = email.message_from_bytes(data[0][1], policy=default)
        return str(header["Message-ID"])
    finally:
        imap.logout()
