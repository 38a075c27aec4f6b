"""Reading MIME: hostile, broken or old-fashioned mail in, plain typed data out.

Nothing here trusts the message: charsets may lie or be missing, filenames carry paths,
headers are malformed. Every accessor falls back to something readable instead of raising.
"""

from __future__ import annotations

import email
import email.policy
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import HeaderParseError
from email.header import decode_header
from email.headerregistry import Address as _Address
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime

XDM_PREFIX = "XDM/1.0/DDM+"
# Deeper multipart nesting is ignored: real mail stays under ten levels, bombs go to thousands.
MAX_DEPTH = 20
# Machine-readable parts of delivery and read reports: shown with the text, never as files.
_REPORT_TYPES = frozenset(
    {"message/delivery-status", "message/disposition-notification", "text/rfc822-headers"}
)

_POLICY = email.policy.default.clone(raise_on_defect=False)


@dataclass(frozen=True)
class Address:
    name: str
    address: str

    @property
    def display(self) -> str:
        return self.name or self.address


@dataclass(frozen=True)
class Attachment:
    part_id: str
    filename: str
    content_type: str
    size: int
    content_id: str | None = None


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


def parse_message(raw: bytes) -> ParsedMessage:
    walker = _BodyWalker()
    try:
        message = email.message_from_bytes(raw, policy=_POLICY)
        walker.visit(message, "")
    except RecursionError:
        # The stdlib parser recurses once per MIME level: a nesting bomb gets headers only.
        header_block = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        message = email.message_from_bytes(header_block + b"\r\n\r\n", policy=_POLICY)
        walker = _BodyWalker()
    html = walker.html_text()
    attachments = [
        attachment
        for attachment in walker.attachments
        if not (attachment.content_id and html and _references_cid(html, attachment.content_id))
    ]
    inline_images = {
        attachment.content_id: attachment.part_id
        for attachment in walker.attachments
        if attachment.content_id
    }
    subject = header_text(message, "subject")
    return ParsedMessage(
        subject=subject,
        from_=addresses(message, "from"),
        to=addresses(message, "to"),
        cc=addresses(message, "cc"),
        reply_to=addresses(message, "reply-to"),
        date=header_date(message),
        message_id=_message_id(header_text(message, "message-id")),
        in_reply_to=_message_id(header_text(message, "in-reply-to")),
        references=_message_ids(header_text(message, "references")),
        text=walker.plain_text(),
        html=html,
        attachments=attachments,
        inline_images=inline_images,
        kind=message_kind(message, subject),
        mdn_requested_by=header_text(message, "disposition-notification-to") or None,
        mss_ins=header_text(message, "x-mss-ins") or None,
        mss_codecda=header_text(message, "x-mss-codecda") or None,
    )


def message_kind(message: Message, subject: str) -> str:
    content_type = message.get_content_type()
    report_type = (
        (message.get_param("report-type") or "") if content_type == "multipart/report" else ""
    )
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


# -- headers -------------------------------------------------------------------------------


def parse_headers(block: bytes) -> Message:
    """A header block parsed the fast way, for lists: the stdlib's modern policy costs
    milliseconds a message, the legacy one microseconds. Decode with the quick_* helpers."""
    return BytesHeaderParser(policy=email.policy.compat32).parsebytes(block)


def quick_text(message: Message, name: str) -> str:
    value = message.get(name)
    return _clean_header(decode_words(str(value))) if value is not None else ""


def quick_addresses(message: Message, name: str) -> list[Address]:
    values = [str(value) for value in message.get_all(name, [])]
    return [
        Address(name=_clean_header(decode_words(display)), address=address)
        for display, address in getaddresses(values)
        if address and "@" in address
    ]


def quick_date(message: Message) -> datetime | None:
    value = message.get("date")
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (ValueError, TypeError, IndexError):
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def decode_words(value: str) -> str:
    """RFC 2047 encoded words to text, tolerating broken ones and raw 8-bit bytes."""
    if any("\udc80" <= char <= "\udcff" for char in value):
        value = _decode_bytes(value.encode("ascii", "surrogateescape"), None)
    if "=?" not in value:
        return value
    try:
        parts = decode_header(value)
    except (ValueError, HeaderParseError):
        return value
    return "".join(
        _decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk
        for chunk, charset in parts
    )


def header_text(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):
        value = None
    if value is None:
        return ""
    text = str(value)
    return _clean_header(text)


def _clean_header(text: str) -> str:
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)
    text = re.sub(r"\s*\r?\n\s*", " ", text)
    # Whitespace between encoded words is not part of the text (RFC 2047 section 6.2); the
    # stdlib leaves it doubled when words are split around a space.
    return re.sub(r"\s{2,}", " ", text).strip()


def addresses(message: Message, name: str) -> list[Address]:
    try:
        header = message.get(name)
        if header is None:
            return []
        found = getattr(header, "addresses", None)
        if found is not None:
            comment = _trailing_comment(_raw_header(message, name)) if len(found) == 1 else ""
            return [_address(item, comment) for item in found if item.addr_spec]
    except (ValueError, TypeError, IndexError, AttributeError):
        pass
    raw = [str(value) for value in message.get_all(name, [])]
    return [
        Address(name=_clean_header(display), address=address)
        for display, address in getaddresses(raw)
        if address
    ]


def _address(item: _Address, comment: str = "") -> Address:
    # Old form "user@host (Full Name)": the comment is the only name given.
    name = item.display_name or comment
    return Address(name=_clean_header(name), address=item.addr_spec)


def _raw_header(message: Message, name: str) -> str:
    for key, value in message.raw_items():
        if key.lower() == name:
            return str(value)
    return ""


def _trailing_comment(text: str) -> str:
    match = re.fullmatch(r"\s*[^\s<>()]+@[^\s<>()]+\s*\(([^()]*)\)\s*", text)
    return match.group(1) if match else ""


def header_date(message: Message) -> datetime | None:
    raw = message.get("date")
    if raw is None:
        return None
    try:
        parsed = getattr(raw, "datetime", None) or parsedate_to_datetime(str(raw))
    except (ValueError, TypeError, IndexError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


def _message_id(text: str) -> str | None:
    ids = _message_ids(text)
    return ids[0] if ids else None


def _message_ids(text: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", text)


# -- bodies and attachments ----------------------------------------------------------------


class _BodyWalker:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[Attachment] = []

    def visit(self, part: Message, part_id: str) -> None:
        if part_id.count(".") >= MAX_DEPTH:
            return  # hostile nesting: nothing a person wrote lies this deep
        content_type = part.get_content_type()
        if part.is_multipart() and content_type != "message/rfc822":
            payload = part.get_payload()
            if not isinstance(payload, list):
                return
            children = [child for child in payload if isinstance(child, Message)]
            if content_type == "multipart/alternative":
                self._visit_alternative(children, part_id)
                return
            for index, child in enumerate(children, start=1):
                self.visit(child, _child_id(part_id, index))
            return
        self._visit_leaf(part, part_id or "1")

    def _visit_alternative(self, children: list[Message], part_id: str) -> None:
        # Keep one text and one HTML rendering; anything else inside is still visited.
        has_text = has_html = False
        for index, child in enumerate(children, start=1):
            kind = child.get_content_type()
            body = not _is_attachment(child)
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

    def _visit_leaf(self, part: Message, part_id: str) -> None:
        content_type = part.get_content_type()
        if content_type in ("text/plain", "text/html") and not _is_attachment(part):
            target = self.texts if content_type == "text/plain" else self.htmls
            target.append(decode_text(part))
            return
        if content_type in _REPORT_TYPES:
            # The machine-readable report, shown with the human text rather than as a file.
            self.texts.append(decode_text(part))
            return
        self.attachments.append(_attachment(part, part_id))

    def plain_text(self) -> str | None:
        texts = [text for text in self.texts if text.strip()]
        return "\n\n".join(texts) if texts else None

    def html_text(self) -> str | None:
        htmls = [html for html in self.htmls if html.strip()]
        return "\n<hr>\n".join(htmls) if htmls else None


def _child_id(parent: str, index: int) -> str:
    return f"{parent}.{index}" if parent else str(index)


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment"


def _attachment(part: Message, part_id: str, content: bytes | None = None) -> Attachment:
    content_type = part.get_content_type()
    content_id = header_text(part, "content-id").strip("<> ") or None
    return Attachment(
        part_id=part_id,
        filename=safe_filename(_raw_filename(part), content_type, part),
        content_type=content_type,
        size=len(part_bytes(part) if content is None else content),
        content_id=content_id,
    )


def _raw_filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except (ValueError, TypeError, IndexError, LookupError):
        name = None
    if not name:
        try:
            name = part.get_param("name")  # type: ignore[assignment]
            if isinstance(name, tuple):
                name = email.utils.collapse_rfc2231_value(name)
        except (ValueError, TypeError, IndexError, LookupError):
            name = None
    return str(name) if name else ""


def safe_filename(name: str, content_type: str, part: Message | None = None) -> str:
    """A filename that is only a name: no path, no control characters, never empty."""
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r"[\x00-\x1f\x7f]", "", name)
    name = re.split(r"[\\/]", name)[-1].strip().lstrip(".").strip()
    if not name and content_type == "message/rfc822" and part is not None:
        inner = part.get_payload(0) if part.is_multipart() else None
        subject = header_text(inner, "subject") if isinstance(inner, Message) else ""
        name = safe_filename(subject, "text/plain") + ".eml" if subject else ""
    if not name:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = "piece-jointe" + extension
    if len(name) > 150:
        stem, dot, extension = name.rpartition(".")
        name = (stem[:140] + dot + extension[:9]) if dot else name[:150]
    return name


def part_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part (or the whole embedded message for message/rfc822)."""
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0].as_bytes(policy=_POLICY.clone(linesep="\r\n"))
        return b""
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError):
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "replace") if isinstance(payload, str) else b""


def decode_text(part: Message) -> str:
    data = part_bytes(part)
    return _normalise_newlines(_decode_bytes(data, part.get_content_charset()))


def _decode_bytes(data: bytes, declared: str | None) -> str:
    for charset in _charset_candidates(declared):
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _charset_candidates(declared: str | None) -> list[str]:
    candidates = []
    if declared and declared not in ("us-ascii", "ascii"):
        # Mail that says latin-1 is nearly always windows-1252 in practice (curly quotes, €).
        candidates.append("cp1252" if declared in ("iso-8859-1", "latin-1", "latin1") else declared)
    candidates += ["utf-8", "cp1252"]
    return candidates


def extract_part(raw: bytes, part_id: str) -> tuple[Attachment, bytes] | None:
    """The part with this id (as numbered by parse_message), described and decoded, parsing
    the message once; None when there is no such part."""
    part = _locate(raw, part_id)
    if part is None:
        return None
    content = part_bytes(part)
    return _attachment(part, part_id, content), content


def part_content(raw: bytes, part_id: str) -> bytes | None:
    found = extract_part(raw, part_id)
    return found[1] if found is not None else None


def _locate(raw: bytes, part_id: str) -> Message | None:
    if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){0,15}", part_id):
        return None
    try:
        message: Message = email.message_from_bytes(raw, policy=_POLICY)
    except RecursionError:
        return None
    if not message.is_multipart() or message.get_content_type() == "message/rfc822":
        return message if part_id == "1" else None
    current: Message = message
    for step in part_id.split("."):
        children = current.get_payload()
        index = int(step) - 1
        if not isinstance(children, list) or not 0 <= index < len(children):
            return None
        child = children[index]
        if not isinstance(child, Message):
            return None
        current = child
        if current.get_content_type() == "message/rfc822":
            break
    return current


def _references_cid(html: str, content_id: str) -> bool:
    return f"cid:{content_id}".lower() in html.lower()
