"""Reading MIME: hostile, broken or old-fashioned mail in, plain typed data out.

Nothing here trusts the message: charsets may lie or be missing, filenames carry paths,
headers are malformed. Every accessor falls back to something readable instead of raising;
when the message defeats the parser anyway, ``plain_message`` still shows its raw text.
Header decoding lives in ``headers``, parts and file names in ``parts``.
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message

from webmail.mail.headers import (
    Address,
    addresses,
    decode_bytes,
    decode_words,
    header_date,
    header_text,
    parse_headers,
    raw_value,
    raw_values,
    sender,
    text_value,
)
from webmail.mail.parts import (
    MAX_DEPTH,
    POLICY,
    Attachment,
    children,
    decode_text,
    describe,
    encapsulated,
    extract_part,
    has_filename,
    part_bytes,
    part_content,
    safe_filename,
)

__all__ = [
    "Address",
    "Attachment",
    "Encapsulated",
    "Origin",
    "ParsedMessage",
    "addresses",
    "assemble",
    "decode_words",
    "display_subject",
    "extract_part",
    "header_date",
    "header_text",
    "message_kind",
    "parse_headers",
    "parse_message",
    "parse_or_plain",
    "part_bytes",
    "part_content",
    "plain_message",
    "safe_filename",
    "sender",
]

log = logging.getLogger(__name__)

XDM_PREFIX = "XDM/1.0/DDM+"
# Machine-readable parts of delivery and read reports: shown with the text, never as files.
_REPORT_TYPES = frozenset(
    {"message/delivery-status", "message/disposition-notification", "text/rfc822-headers"}
)


@dataclass(frozen=True)
class Encapsulated:
    """The headers of a message sent as the whole body of another (message/rfc822 on top)."""

    subject: str
    from_: list[Address]
    to: list[Address]
    date: datetime | None

    @property
    def sender(self) -> Address | None:
        return sender(self.from_)


@dataclass(frozen=True)
class Origin:
    """The headers that say who really sent a message (RFC 5322 Sender, the envelope's
    Return-Path, the receiving server's Authentication-Results), and the recipient the
    sender first named (RFC 3798 Original-Recipient), raw text: judged by the reader."""

    sender: str = ""
    return_path: str = ""
    authentication_results: tuple[str, ...] = ()
    original_recipient: str = ""


@dataclass
class ParsedMessage:
    subject: str
    from_: list[Address]
    to: list[Address]
    cc: list[Address]
    reply_to: list[Address]
    date: datetime | None
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    text: str | None
    html: str | None
    attachments: list[Attachment]
    inline_images: dict[str, str] = field(default_factory=dict)  # content-id -> part id
    kind: str = "mail"  # mail | dsn | mdn | xdm
    mdn_requested_by: str | None = None
    mss_ins: str | None = None
    mss_codecda: str | None = None
    encapsulated: list[Encapsulated] = field(default_factory=list)
    # The parser gave up: the text is the raw message, headers as far as they could be read.
    malformed: bool = False
    # Where the message says it comes from besides From: what tells a forged sender.
    origin: Origin = field(default_factory=Origin)

    @property
    def sender(self) -> Address | None:
        return sender(self.from_)


def parse_message(raw: bytes) -> ParsedMessage:
    walker = _BodyWalker()
    try:
        message = email.message_from_bytes(raw, policy=POLICY)
        walker.visit_message(message, "", inline=True)
    except RecursionError:
        # The stdlib parser recurses once per MIME level: a nesting bomb gets headers only.
        message = email.message_from_bytes(_header_block(raw) + b"\r\n\r\n", policy=POLICY)
        walker = _BodyWalker()
    parsed = assemble(message, walker.texts, walker.htmls, walker.attachments)
    parsed.encapsulated = walker.encapsulated
    return parsed


def assemble(
    headers: Message, texts: list[str], htmls: list[str], found: list[Attachment]
) -> ParsedMessage:
    """The message to show from its headers, its body texts and the files found in it
    (by this module's walk of the whole message, or by ``structure`` from BODYSTRUCTURE)."""
    html = _joined(htmls, "\n<hr>\n")
    attachments = [
        attachment
        for attachment in found
        if not (attachment.content_id and html and _references_cid(html, attachment.content_id))
    ]
    parsed = _header_fields(headers)
    parsed.text = _joined(texts, "\n\n")
    parsed.html = html
    parsed.attachments = attachments
    parsed.inline_images = {a.content_id: a.part_id for a in found if a.content_id}
    return parsed


def _joined(texts: list[str], separator: str) -> str | None:
    kept = [text for text in texts if text.strip()]
    return separator.join(kept) if kept else None


def parse_or_plain(raw: bytes) -> ParsedMessage:
    """The parsed message or, when the mail defeats the parser, its raw text: everything built
    on it (reading, frame, reply and forward quoting, kept files) degrades instead of failing."""
    try:
        return parse_message(raw)
    except Exception as error:  # hostile mail can break the stdlib in ways nobody lists
        log.warning("message shown as raw text: %s", type(error).__name__)
        return plain_message(raw)


def plain_message(raw: bytes) -> ParsedMessage:
    """The last resort when parsing or rendering failed: the headers the fast parser can read
    and the rest of the message as text, so that nothing is lost."""
    head, _sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    try:
        parsed = _header_fields(parse_headers(head + b"\n\n"))
    except Exception:  # the last resort must not fail in turn: no headers, still the text
        parsed = _header_fields(Message())
    text = _printable(decode_bytes(body, None))
    parsed.text = text or None
    parsed.malformed = True
    return parsed


def _printable(text: str) -> str:
    """Text with no NUL, lone surrogate or other character a page cannot carry."""
    cleaned = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return "".join(char for char in cleaned if char in "\n\t" or char.isprintable() or char == " ")


def _header_fields(message: Message) -> ParsedMessage:
    subject = header_text(message, "subject")
    return ParsedMessage(
        subject=subject,
        from_=addresses(message, "from"),
        to=addresses(message, "to"),
        cc=addresses(message, "cc"),
        reply_to=[a for a in addresses(message, "reply-to") if "@" in a.address],
        date=header_date(message),
        message_id=_message_id(header_text(message, "message-id")),
        in_reply_to=_message_id(header_text(message, "in-reply-to")),
        references=_message_ids(header_text(message, "references")),
        text=None,
        html=None,
        attachments=[],
        kind=message_kind(message, subject),
        mdn_requested_by=header_text(message, "disposition-notification-to") or None,
        mss_ins=header_text(message, "x-mss-ins") or None,
        mss_codecda=header_text(message, "x-mss-codecda") or None,
        origin=Origin(
            sender=header_text(message, "sender"),
            return_path=header_text(message, "return-path"),
            authentication_results=tuple(
                text_value(value) for value in raw_values(message, "authentication-results")
            ),
            original_recipient=header_text(message, "original-recipient"),
        ),
    )


def _header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]


def message_kind(message: Message, subject: str) -> str:
    try:
        content_type = message.get_content_type()
        report_type = (
            (message.get_param("report-type") or "") if content_type == "multipart/report" else ""
        )
    except (ValueError, TypeError, IndexError, LookupError, AttributeError):
        report_type = ""
    report = str(report_type).lower()
    if report == "delivery-status":
        return "dsn"
    if report == "disposition-notification":
        return "mdn"
    if subject.startswith(XDM_PREFIX):
        return "xdm"
    return "mail"


def display_subject(subject: str) -> str:
    """The subject as clinicians read it: the technical XDM prefix hidden."""
    if subject.startswith(XDM_PREFIX):
        return subject[len(XDM_PREFIX) :].strip()
    return subject


def _message_id(text: str) -> str | None:
    ids = _message_ids(text)
    return ids[0] if ids else None


def _message_ids(text: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", text)


# -- bodies and attachments ----------------------------------------------------------------


class _BodyWalker:
    """Collects the texts to show and the attachments to list, numbering parts as IMAP does.

    With ``bodies=False`` it only lists attachments: that is how the inside of an attached
    message is read, its own text being the attached message's business."""

    def __init__(self, *, bodies: bool = True) -> None:
        self.bodies = bodies
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[Attachment] = []
        self.encapsulated: list[Encapsulated] = []

    def visit_message(self, message: Message, prefix: str, *, inline: bool = False) -> None:
        """A whole message (top level or attached) whose parts are numbered under prefix."""
        if message.is_multipart() and message.get_content_type() != "message/rfc822":
            self.visit(message, prefix)
        else:
            self._visit_leaf(message, _child_id(prefix, 1), top=inline)

    def visit(self, part: Message, part_id: str) -> None:
        if part_id.count(".") >= MAX_DEPTH:
            return  # hostile nesting: nothing a person wrote lies this deep
        content_type = part.get_content_type()
        if part.is_multipart() and content_type != "message/rfc822":
            found = children(part)
            if content_type == "multipart/alternative":
                self._visit_alternative(found, part_id)
                return
            for index, child in enumerate(found, start=1):
                self.visit(child, _child_id(part_id, index))
            return
        self._visit_leaf(part, part_id)

    def _visit_alternative(self, found: list[Message], part_id: str) -> None:
        # Keep one text and one HTML rendering; anything else inside is still visited.
        has_text = has_html = False
        for index, child in enumerate(found, start=1):
            kind = child.get_content_type()
            body = self.bodies and _is_body(child)
            if kind == "text/plain" and body:
                if not has_text:
                    self.texts.append(decode_text(child))
                has_text = True
            elif kind == "text/html" and body:
                if not has_html:
                    self.htmls.append(decode_text(child))
                has_html = True
            else:
                self.visit(child, _child_id(part_id, index))

    def _visit_leaf(self, part: Message, part_id: str, *, top: bool = False) -> None:
        content_type = part.get_content_type()
        if content_type in ("text/plain", "text/html") and (top or _is_body(part)):
            if self.bodies:
                target = self.texts if content_type == "text/plain" else self.htmls
                target.append(decode_text(part))
            return
        if content_type in _REPORT_TYPES:
            # The machine-readable report, shown with the human text rather than as a file.
            if self.bodies:
                self.texts.append(decode_text(part))
            return
        if content_type == "message/rfc822":
            self._visit_attached_message(part, part_id, inline=top)
            return
        self.attachments.append(describe(part, part_id))

    def _visit_attached_message(self, part: Message, part_id: str, *, inline: bool) -> None:
        inner = encapsulated(part)
        if inner is None or part_id.count(".") >= MAX_DEPTH:
            self.attachments.append(describe(part, part_id))
            return
        if inline and self.bodies:
            # The whole body is a message: shown in place, as mail clients do.
            self.encapsulated.append(_encapsulated_headers(inner))
            self.visit_message(inner, part_id, inline=True)
            return
        inside = _BodyWalker(bodies=False)
        inside.visit_message(inner, part_id)
        self.attachments.append(describe(part, part_id, contents=tuple(inside.attachments)))


def _encapsulated_headers(message: Message) -> Encapsulated:
    return Encapsulated(
        subject=header_text(message, "subject"),
        from_=addresses(message, "from"),
        to=addresses(message, "to"),
        date=header_date(message),
    )


def _child_id(parent: str, index: int) -> str:
    return f"{parent}.{index}" if parent else str(index)


def _is_body(part: Message) -> bool:
    """A text part is the body unless sent as an attachment or given a file name: a named
    part ("inline; filename=compte-rendu.html") is a document, and is listed as one."""
    disposition = (raw_value(part, "content-disposition") or "").split(";")[0].strip().lower()
    return disposition != "attachment" and not has_filename(part)


def _references_cid(html: str, content_id: str) -> bool:
    return f"cid:{content_id}".lower() in html.lower()
