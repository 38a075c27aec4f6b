"""Delivery reports (RFC 3464 DSN) and read receipts (RFC 8098 MDN) read as plain statuses.

A report names the message it is about (``Original-Message-ID``, the returned message's or
headers' ``Message-ID``, ``In-Reply-To``/``References``) and, per recipient, what happened.
Reports come from anywhere and are read as hostile: only the first bytes of a message are
parsed (``REPORT_BYTES``), fields are one printable line of bounded length, a report is at
most ``MAX_STATUSES`` lines, and whatever does not parse is left out rather than raised.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.parser import HeaderParser

from webmail.mail.headers import header_date, header_text, parse_date, text_value
from webmail.mail.parts import POLICY, decode_text

# A report's machine part comes before the returned message: this is more than enough.
REPORT_BYTES = 64 * 1024
MAX_STATUSES = 50
MAX_PARTS = 50
_FIELD_CHARS = 300
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_ADDRESS = re.compile(r"[^\s<>;,@\x00-\x1f\x7f]{1,64}@[^\s<>;,@\x00-\x1f\x7f]{1,253}")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


@dataclass(frozen=True)
class Status:
    """One recipient's outcome: ``delivered``, ``failed``, ``delayed`` (DSN), ``displayed``,
    ``deleted``, ``processed`` (MDN)."""

    kind: str
    recipient: str
    when: datetime | None
    reason: str = ""


@dataclass(frozen=True)
class Report:
    about: frozenset[str]  # the Message-IDs of the message(s) it reports on
    statuses: tuple[Status, ...]
    human: str  # the report's text for people, its first text/plain part


def parse_report(raw: bytes) -> Report | None:
    """The report in ``raw`` (the start of it is enough), or None if it is not one."""
    try:
        message = email.message_from_bytes(raw[:REPORT_BYTES], policy=POLICY)
        return _report(message)
    except Exception:  # hostile mail breaks the stdlib in unlisted ways: not a report, then
        return None


def _report(message: Message) -> Report | None:
    if message.get_content_type() != "multipart/report":
        return None
    kind = str(message.get_param("report-type") or "").lower()
    if kind not in ("delivery-status", "disposition-notification"):
        return None
    about = set(_ids(header_text(message, "in-reply-to")))
    statuses: list[Status] = []
    human = ""
    sent = header_date(message)
    for part in _parts(message):
        content_type = part.get_content_type()
        if content_type == "text/plain" and not human:
            human = decode_text(part)[:20_000].encode("utf-8", "replace").decode("utf-8")
        elif content_type == "message/delivery-status" and kind == "delivery-status":
            statuses += _dsn_statuses(_blocks(part), sent)
        elif content_type == "message/disposition-notification":
            found, original = _mdn_status(_blocks(part), sent)
            statuses += found
            about |= original
        elif content_type in ("text/rfc822-headers", "message/rfc822"):
            about |= _returned_ids(part)
    if not statuses:
        return None
    return Report(frozenset(about), tuple(statuses[:MAX_STATUSES]), human)


def _parts(message: Message) -> list[Message]:
    """The report's parts, and those of a multipart inside it; never the field blocks the
    parser makes of a report's machine part, nor what a returned message holds."""
    found: list[Message] = []
    for part in _children(message):
        if part.is_multipart() and not part.get_content_type().startswith("message/"):
            found += _children(part)
        else:
            found.append(part)
    return found[:MAX_PARTS]


def _children(message: Message) -> list[Message]:
    payload = message.get_payload()
    if not isinstance(payload, list):
        return []
    return [part for part in payload[:MAX_PARTS] if isinstance(part, Message)]


def _dsn_statuses(blocks: list[dict[str, str]], sent: datetime | None) -> list[Status]:
    if not blocks:
        return []
    arrival = _date(blocks[0].get("arrival-date")) or sent
    found = []
    for block in blocks[1:]:
        action = block.get("action", "").lower()
        kind = {"failed": "failed", "delayed": "delayed"}.get(
            action, "delivered" if action in ("delivered", "relayed", "expanded") else ""
        )
        recipient = _recipient(block.get("final-recipient") or block.get("original-recipient"))
        if not kind or not recipient:
            continue
        reason = _diagnostic(block.get("diagnostic-code", "")) or block.get("status", "")
        when = _date(block.get("last-attempt-date")) or arrival
        found.append(Status(kind, recipient, when, reason if kind != "delivered" else ""))
    return found


def _mdn_status(
    blocks: list[dict[str, str]], sent: datetime | None
) -> tuple[list[Status], set[str]]:
    fields = {key: value for block in blocks for key, value in block.items()}
    recipient = _recipient(fields.get("final-recipient") or fields.get("original-recipient"))
    disposition = fields.get("disposition", "").lower()
    # "manual-action/MDN-sent-manually; displayed": the type follows the semicolon.
    shown = disposition.rpartition(";")[2].split("/")[0].strip()
    kind = {"displayed": "displayed", "deleted": "deleted"}.get(
        shown, "processed" if shown in ("dispatched", "processed") else ""
    )
    original = set(_ids(fields.get("original-message-id", "")))
    if not kind or not recipient:
        return [], original
    return [Status(kind, recipient, sent)], original


def _blocks(part: Message) -> list[dict[str, str]]:
    """The report's field blocks (a blank line apart), names lower case, values one line."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [
            {key.lower(): _one_line(str(value)) for key, value in block.raw_items()}
            for block in payload[: MAX_STATUSES + 1]
            if isinstance(block, Message)
        ]
        return [block for block in blocks if block]
    text = payload if isinstance(payload, str) else ""
    parsed = []
    for chunk in re.split(r"\r?\n\s*\r?\n", text[:REPORT_BYTES])[: MAX_STATUSES + 1]:
        block = HeaderParser().parsestr(chunk.strip() + "\n\n")
        fields = {key.lower(): _one_line(str(value)) for key, value in block.items()}
        if fields:
            parsed.append(fields)
    return parsed


def _returned_ids(part: Message) -> set[str]:
    """The Message-ID of the returned message, or of its headers."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        headers: Message = payload[0]
    elif isinstance(payload, str):
        headers = HeaderParser().parsestr(payload[:REPORT_BYTES], headersonly=True)
    else:
        return set()
    return set(_ids(text_value(str(headers.get("message-id", "")))))


def _ids(text: str) -> list[str]:
    return _MESSAGE_ID.findall(text)[:20]


def _recipient(value: str | None) -> str:
    """``rfc822; a@b`` → ``a@b``; anything else → ""."""
    address = (value or "").rpartition(";")[2].strip().strip("<>")
    return address.lower() if _ADDRESS.fullmatch(address) else ""


def _diagnostic(value: str) -> str:
    """``smtp; 550 5.1.1 …`` → ``550 5.1.1 …``."""
    kind, sep, rest = value.partition(";")
    return (rest if sep and len(kind) < 20 else value).strip()


def _date(value: str | None) -> datetime | None:
    return parse_date(value) if value else None


def _one_line(value: str) -> str:
    """A field's value as text: encoded words and raw 8-bit decoded, one printable line."""
    text = text_value(value).encode("utf-8", "replace").decode("utf-8")
    return " ".join(_UNPRINTABLE.sub(" ", text).split())[:_FIELD_CHARS]
