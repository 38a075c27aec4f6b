"""MIME parts: their decoded content, their file names, and finding one by its part id.

Part ids follow IMAP's numbering: "2" is the second child of the top multipart, a lone body
is "1", and the parts of an attached message (message/rfc822 at "2") are "2.1", "2.2"…
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import mimetypes
import quopri
import re
import unicodedata
from dataclasses import dataclass
from email.message import Message

from webmail.mail.headers import (
    decode_bytes,
    decode_words,
    header_text,
    one_line,
    raw_to_text,
    raw_value,
)

POLICY = email.policy.default.clone(raise_on_defect=False)
_CRLF_POLICY = POLICY.clone(linesep="\r\n")
# Deeper multipart nesting is ignored: real mail stays under ten levels, bombs go to thousands.
MAX_DEPTH = 20
_PART_ID = re.compile(r"\d{1,3}(\.\d{1,3}){0,19}")
# Bidirectional and invisible formatting characters: "rapport\u202efdp.exe" shows as
# "rapportexe.pdf". They have no place in a file name, and are removed from every one.
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class Attachment:
    part_id: str
    filename: str
    content_type: str
    size: int
    content_id: str | None = None
    # For an attached message: the attachments inside it, listed under it.
    contents: tuple[Attachment, ...] = ()


def describe(
    part: Message,
    part_id: str,
    content: bytes | None = None,
    contents: tuple[Attachment, ...] = (),
) -> Attachment:
    content_type = part.get_content_type()
    content_id = header_text(part, "content-id").strip("<> ") or None
    return Attachment(
        part_id=part_id,
        filename=safe_filename(raw_filename(part), content_type, part),
        content_type=content_type,
        size=len(part_bytes(part) if content is None else content),
        content_id=content_id,
        contents=contents,
    )


def raw_filename(part: Message) -> str:
    """The name the sender gave: Content-Disposition filename, else Content-Type name.

    Parameters are read from the raw header with the legacy parser's rules, so that raw
    8-bit names are decoded like every other header (UTF-8, else windows-1252)."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        raw = raw_value(part, header)
        if raw is None:
            continue
        legacy = Message()  # compat32: keeps the value exactly as it came
        legacy[header] = raw_to_text(raw)
        try:
            value = legacy.get_param(param, header=header)
            if isinstance(value, tuple):  # RFC 2231 (charset, language, text)
                value = email.utils.collapse_rfc2231_value(value)
        except (ValueError, TypeError, IndexError, LookupError, AttributeError):
            continue
        if value:
            return decode_words(str(value))
    return ""


def has_filename(part: Message) -> bool:
    return bool(raw_filename(part).strip())


def safe_filename(
    name: str, content_type: str, part: Message | None = None, *, subject: str | None = None
) -> str:
    """A filename that is only a name: no path, no control or bidi character, never empty.

    An attached message without a name is named after its subject: the one given, else the
    one read from ``part``."""
    name = unicodedata.normalize("NFC", one_line(_INVISIBLE.sub("", name)))
    name = re.sub(r"[\x00-\x1f\x7f]", "", name)
    name = re.split(r"[\\/]", name)[-1].strip().lstrip(".").strip()
    if not name and content_type == "message/rfc822":
        if subject is None and part is not None:
            inner = encapsulated(part)
            subject = header_text(inner, "subject") if inner is not None else ""
        name = safe_filename(subject, "text/plain") + ".eml" if subject else ""
    if not name:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = "piece-jointe" + extension
    if len(name) > 150:
        stem, dot, extension = name.rpartition(".")
        name = (stem[:140] + dot + extension[:9]) if dot else name[:150]
    return name


def encapsulated(part: Message) -> Message | None:
    """The message inside a message/rfc822 part. Some senders base64- or QP-encode it (RFC 2046
    forbids it); the parser then took the encoded text for a message, so decode and reparse."""
    payload = part.get_payload()
    if not (isinstance(payload, list) and payload and isinstance(payload[0], Message)):
        return None
    inner: Message = payload[0]
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding not in ("base64", "quoted-printable"):
        return inner
    text = inner.as_bytes(policy=_CRLF_POLICY)
    try:
        data = base64.b64decode(text) if encoding == "base64" else quopri.decodestring(text)
    except (binascii.Error, ValueError):
        return inner
    return email.message_from_bytes(data.lstrip(b"\r\n"), policy=POLICY)


def part_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part (or the whole embedded message for message/rfc822)."""
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        inner = encapsulated(part)
        return inner.as_bytes(policy=_CRLF_POLICY) if inner is not None else b""
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
    try:
        declared = part.get_content_charset()
    except (ValueError, TypeError, LookupError):
        declared = None
    return _normalise_newlines(decode_bytes(data, declared))


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def children(container: Message) -> list[Message]:
    """What part ids number below a part: a multipart's parts, an attached message's parts
    (or that message's lone body)."""
    if container.get_content_type() == "message/rfc822":
        inner = encapsulated(container)
        if inner is None:
            return []
        return children(inner) if inner.is_multipart() else [inner]
    payload = container.get_payload() if container.is_multipart() else None
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, Message)]


def extract_part(raw: bytes, part_id: str) -> tuple[Attachment, bytes] | None:
    """The part with this id (as numbered by parse_message), described and decoded, parsing
    the message once; None when there is no such part."""
    part = locate(raw, part_id)
    if part is None:
        return None
    content = part_bytes(part)
    return describe(part, part_id, content), content


def part_content(raw: bytes, part_id: str) -> bytes | None:
    found = extract_part(raw, part_id)
    return found[1] if found is not None else None


def locate(raw: bytes, part_id: str) -> Message | None:
    if not _PART_ID.fullmatch(part_id):
        return None
    try:
        message: Message = email.message_from_bytes(raw, policy=POLICY)
        steps = [int(step) - 1 for step in part_id.split(".")]
        if not message.is_multipart() or message.get_content_type() == "message/rfc822":
            if steps[0] != 0:
                return None
            steps = steps[1:]  # a lone body is part 1 of itself
        current = message
        for index in steps:
            found = children(current)
            if not 0 <= index < len(found):
                return None
            current = found[index]
        return current
    except RecursionError:
        return None
