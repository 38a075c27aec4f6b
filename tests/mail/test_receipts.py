"""Read receipts, without servers: when one is offered, and the report built (RFC 8098)."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.policy import default
from pathlib import Path

from webmail.mail import mdn, mime, receipts

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def parsed(headers: str, body: str = "Bonjour.") -> mime.ParsedMessage:
    raw = (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body + "\r\n").encode()
    return mime.parse_message(raw)


ASKING = """From: Dr B <b@chu-demo.mssante.test>
To: a@medecin.mssante.test
Subject: Compte rendu
Message-ID: <cr1@chu-demo.mssante.test>
Return-Path: <b@chu-demo.mssante.test>
Disposition-Notification-To: b@chu-demo.mssante.test"""


def test_requested_once_and_never_for_a_report() -> None:
    message = parsed(ASKING)
    asked = mdn.requested(message, frozenset({"\\Seen"}))
    assert asked == mdn.ReceiptRequest(["b@chu-demo.mssante.test"], return_path_differs=False)
    assert mdn.requested(message, frozenset({"$mdnsent"})) is None  # keywords: any case
    assert (
        mdn.requested(parsed(ASKING.replace("Disposition-Notification-To", "X-DNT")), frozenset())
        is None
    )
    report = parsed(
        ASKING
        + '\nContent-Type: multipart/report; report-type=disposition-notification; boundary="b"'
    )
    assert mdn.requested(report, frozenset()) is None


def test_a_missing_or_other_return_path_is_said() -> None:
    no_path = parsed(ASKING.replace("Return-Path: <b@chu-demo.mssante.test>\n", ""))
    other = parsed(ASKING.replace("Return-Path: <b@", "Return-Path: <bounces@"))
    for message in (no_path, other):
        asked = mdn.requested(message, frozenset())
        assert asked is not None and asked.return_path_differs


def test_unusable_addresses_give_no_request() -> None:
    for value in ("", "pas une adresse", "<>", ", ".join(f"x{n}@a.example" for n in range(9))):
        assert mdn.receipt_addresses(value) == []


def test_the_receipt_id_is_stable_per_original() -> None:
    message = parsed(ASKING)
    first = mdn.receipt_id(
        "A@medecin.mssante.test", message, "INBOX\x001\x007", "a@medecin.mssante.test"
    )
    again = mdn.receipt_id(
        "a@medecin.mssante.test", message, "INBOX\x001\x008", "a@medecin.mssante.test"
    )
    other = mdn.receipt_id(
        "c@medecin.mssante.test", message, "INBOX\x001\x007", "c@medecin.mssante.test"
    )
    assert first == again != other
    assert first.startswith("<mdn.") and first.endswith("@medecin.mssante.test>")


def test_the_report_has_the_fields_rfc_8098_asks_for() -> None:
    message = parsed(ASKING + "\nOriginal-Recipient: rfc822;a@medecin.mssante.test")
    built = mdn.build_receipt(
        message,
        "a@medecin.mssante.test",
        ["b@chu-demo.mssante.test"],
        "<mdn.1@medecin.mssante.test>",
        NOW,
    )
    report = email.message_from_bytes(built.as_bytes(), policy=default)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "disposition-notification"
    human, machine = list(report.iter_parts())
    assert human.get_content_type() == "text/plain"
    assert "« Compte rendu »" in human.get_content() and "02/12/2026" in human.get_content()
    fields = [f for f in machine.as_bytes().split(b"\n\n", 1)[1].decode().splitlines() if f]
    assert fields == [
        "Reporting-UA: medecin.mssante.test; mss-webmail",
        "Original-Recipient: rfc822;a@medecin.mssante.test",
        "Final-Recipient: rfc822;a@medecin.mssante.test",
        "Original-Message-ID: <cr1@chu-demo.mssante.test>",
        "Disposition: manual-action/MDN-sent-manually; displayed",
    ]
    assert report["In-Reply-To"] == "<cr1@chu-demo.mssante.test>"


def test_hostile_original_headers_cannot_inject_fields() -> None:
    hostile = parsed(
        ASKING.replace("Subject: Compte rendu", "Subject: =?utf-8?q?A=0D=0ABcc:_x@evil.example?=")
        + "\nOriginal-Recipient: =?utf-8?q?a=0D=0ADisposition:_automatic-action?="
    )
    built = mdn.build_receipt(
        hostile,
        "a@medecin.mssante.test",
        ["b@chu-demo.mssante.test"],
        "<mdn.2@medecin.mssante.test>",
        NOW,
    )
    raw = built.as_bytes()
    report = email.message_from_bytes(raw, policy=default)
    assert report["Bcc"] is None
    machine = list(report.iter_parts())[1].as_bytes().decode().splitlines()
    assert [line for line in machine if line.startswith("Disposition:")] == [
        "Disposition: manual-action/MDN-sent-manually; displayed"
    ]
    assert not any(line.startswith("Original-Recipient:") for line in machine)  # left out


# -- reports read back (RFC 3464, RFC 8098) ------------------------------------------------

MESSAGES = Path(__file__).resolve().parent.parent / "messages"


def test_the_golden_dsn_and_mdn_read_as_statuses() -> None:
    dsn = receipts.parse_report((MESSAGES / "dsn.eml").read_bytes())
    assert dsn is not None
    assert dsn.about == {"<golden-dsn-original@medecin.mssante.test>"}
    [failed] = dsn.statuses
    assert (failed.kind, failed.recipient) == ("failed", "moreau@ch-demo.mssante.test")
    assert failed.reason.startswith("550 5.1.1 <moreau@ch-demo.mssante.test>: Recipient")
    assert failed.when is not None and failed.when.hour == 10
    mdn_report = receipts.parse_report((MESSAGES / "mdn.eml").read_bytes())
    assert mdn_report is not None
    assert mdn_report.about == {"<golden-mdn-original@medecin.mssante.test>"}
    assert [(s.kind, s.recipient) for s in mdn_report.statuses] == [
        ("displayed", "antoine.moreau@ch-demo.mssante.test")
    ]
    assert mdn_report.human.startswith("Ceci est un accusé de lecture")


def test_our_own_receipt_reads_back() -> None:
    built = mdn.build_receipt(
        parsed(ASKING),
        "a@medecin.mssante.test",
        ["b@chu-demo.mssante.test"],
        "<mdn.3@medecin.mssante.test>",
        NOW,
    )
    report = receipts.parse_report(built.as_bytes())
    assert report is not None and "<cr1@chu-demo.mssante.test>" in report.about
    assert [(s.kind, s.recipient) for s in report.statuses] == [
        ("displayed", "a@medecin.mssante.test")
    ]


def test_what_is_not_a_report_reads_as_none() -> None:
    for raw in (
        (MESSAGES / "plain_ascii.eml").read_bytes(),
        b"Content-Type: multipart/report; report-type=other; boundary=b\r\n\r\n--b--\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno parts",
        b"\x00\xff" * 1000,
        b"",
    ):
        assert receipts.parse_report(raw) is None
