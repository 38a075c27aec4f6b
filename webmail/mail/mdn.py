"""Read receipts asked of us (RFC 8098): whether to offer one, and the receipt itself.

A receipt is never sent on its own: the reader asks the user, once per message. Sent or
ignored, the original gets the ``$MDNSent`` keyword (RFC 3503) so that no client asks again.
RFC 8098 section 2.1 lists what makes a request suspect (a Return-Path other than the
address asking, several addresses); such a request is still offered, with a word of warning,
since the user decides and nothing leaves without them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from webmail.mail.mime import ParsedMessage
from webmail.trust.recipients import domain_of

MDN_SENT = "$MDNSent"
REPORTING_UA = "mss-webmail"
# RFC 8098 3.2.6: the user chose to send it, and the message was shown.
DISPOSITION = "manual-action/MDN-sent-manually; displayed"
# No one asks ten people for a receipt of one message: past this the request is ignored.
MAX_ADDRESSES = 5
_RECIPIENT_FIELD = re.compile(
    r"[A-Za-z0-9-]{1,20};[^\s;<>\x00-\x1f\x7f]{1,254}@[^\s;<>@\x00-\x1f\x7f]{1,253}"
)


@dataclass(frozen=True)
class ReceiptRequest:
    addresses: list[str]  # where the receipt would go (Disposition-Notification-To)
    return_path_differs: bool  # RFC 8098 2.1: the envelope sender is not who asks


def requested(message: ParsedMessage, flags: frozenset[str]) -> ReceiptRequest | None:
    """The request to put to the user, or None: none asked, already answered, or the message
    is itself a report (a receipt for a receipt would loop)."""
    if not message.mdn_requested_by or message.kind in ("mdn", "dsn"):
        return None
    if any(flag.lower() == MDN_SENT.lower() for flag in flags):
        return None
    addresses = receipt_addresses(message.mdn_requested_by)
    if not addresses:
        return None
    return_path = _bare(message.origin.return_path)
    differs = return_path not in [a.lower() for a in addresses]
    return ReceiptRequest(addresses=addresses, return_path_differs=differs)


def receipt_addresses(value: str) -> list[str]:
    """The addresses of a Disposition-Notification-To field that can receive mail."""
    pairs = getaddresses([value.replace("\r", " ").replace("\n", " ")])
    found = [address.strip() for _name, address in pairs if domain_of(address.strip())]
    unique = list(dict.fromkeys(a for a in found if len(a) <= 254 and a.isprintable()))
    return unique if len(unique) <= MAX_ADDRESSES else []


def receipt_id(account: str, original: ParsedMessage, uid_key: str, sender: str) -> str:
    """The receipt's Message-ID: the same for every attempt at the same original, so that the
    send ledger lets exactly one through."""
    basis = f"{account.lower()}\x00{original.message_id or uid_key}".encode()
    digest = hashlib.sha256(basis).hexdigest()[:32]
    domain = domain_of(sender) or "localhost"
    return f"<mdn.{digest}@{domain}>"


def build_receipt(
    original: ParsedMessage,
    reporter: str,
    addresses: list[str],
    message_id: str,
    now: datetime,
) -> EmailMessage:
    """The RFC 8098 report: a line for people, then the fields for programs."""
    report = EmailMessage()
    report["From"] = reporter
    report["To"] = ", ".join(addresses)
    subject = (original.subject or "").replace("\r", " ").replace("\n", " ")[:200]
    report["Subject"] = f"Accusé de lecture : {subject}" if subject else "Accusé de lecture"
    report["Date"] = format_datetime(now)
    report["Message-ID"] = message_id
    if original.message_id:
        report["In-Reply-To"] = original.message_id
        report["References"] = " ".join([*original.references[-10:], original.message_id])
    report.set_content(_human_text(original, reporter, now))
    report.make_mixed()
    report.replace_header(
        "Content-Type", 'multipart/report; report-type="disposition-notification"'
    )
    fields = EmailMessage()
    fields["Content-Type"] = "message/disposition-notification"
    fields.set_payload(_fields(original, reporter))
    report.attach(fields)
    return report


def _human_text(original: ParsedMessage, reporter: str, now: datetime) -> str:
    when = now.strftime("%d/%m/%Y à %H:%M")
    subject = (original.subject or "(sans objet)").replace("\n", " ")[:200]
    sent = original.date.strftime(" du %d/%m/%Y à %H:%M") if original.date else ""
    return (
        f"Votre message « {subject} »{sent} a été affiché par {reporter} le {when}.\n\n"
        "Cet accusé dit seulement que le message a été ouvert : il ne garantit pas qu'il a "
        "été lu ni compris.\n"
    )


def _fields(original: ParsedMessage, reporter: str) -> str:
    # The reporter's domain, not the host's name: nothing of the deployment goes out.
    lines = [f"Reporting-UA: {domain_of(reporter) or 'localhost'}; {REPORTING_UA}"]
    original_recipient = _field_value(original.origin.original_recipient)
    if original_recipient:
        lines.append(f"Original-Recipient: {original_recipient}")
    lines.append(f"Final-Recipient: rfc822;{reporter}")
    if original.message_id:
        lines.append(f"Original-Message-ID: {original.message_id}")
    lines.append(f"Disposition: {DISPOSITION}")
    return "\r\n".join(lines) + "\r\n"


def _field_value(value: str) -> str:
    """An Original-Recipient as RFC 8098 3.2.3 wants it (``rfc822;address``), or "" for a
    value that is not one (it is left out rather than repaired)."""
    value = value.strip()
    if ";" not in value:
        value = "rfc822;" + value
    return value if _RECIPIENT_FIELD.fullmatch(value) else ""


def _bare(value: str) -> str:
    inside = value.rsplit("<", 1)[-1].split(">", 1)[0] if "<" in value else value
    return inside.strip().lower()
