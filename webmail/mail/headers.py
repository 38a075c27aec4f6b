"""Header values as a person reads them: raw bytes, encoded words and addresses, decoded alike
on every path (message lists and the reading view), so both always show the same text.

Everything works on the header's raw value as stored by the stdlib parser (8-bit bytes kept as
surrogate escapes), never on the stdlib's structured header objects: those raise on hostile
input (a CR inside a decoded display name) and turn undeclared 8-bit bytes into U+FFFD.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_HIGH_BYTES = re.compile(rb"[\x80-\xff]+")
_SURROGATES = re.compile("[\ud800-\udfff]")
_PLAIN_RUN = re.compile(r'[^"(<]+|.', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_LIST_SYNTAX = re.compile(r'[",;:()\\]|=\?')
# Line breaks and tabs become spaces; other C0/C1 controls, DEL, lone surrogates and the
# Unicode line separators go: none of them belongs in a one-line value.
_BREAKS = re.compile(r"[\r\n\t\v\f\u0085\u2028\u2029]")
# With the bidi embeddings, overrides and isolates: a subject or a name is never shown
# reversed ("M. DUPONT" + U+202E); right-to-left letters keep their own direction.
_CONTROLS = re.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
)


@dataclass(frozen=True)
class Address:
    name: str
    address: str

    @property
    def display(self) -> str:
        return self.name or self.address


def sender(found: Sequence[Address]) -> Address | None:
    """The one address that stands for the sender, for lists and the reading view alike: the
    first with a name or an address (``foo`` and ``MAILER DAEMON <>`` included), else None."""
    return next((address for address in found if address.display), None)


# -- charsets ------------------------------------------------------------------------------


def charset_candidates(declared: str | None) -> list[str]:
    candidates = []
    declared = (declared or "").strip().lower()
    if declared and declared not in ("us-ascii", "ascii"):
        # Mail that says latin-1 is nearly always windows-1252 in practice (curly quotes, €).
        candidates.append("cp1252" if declared in ("iso-8859-1", "latin-1", "latin1") else declared)
    candidates += ["utf-8", "cp1252"]
    return candidates


def decode_bytes(data: bytes, declared: str | None) -> str:
    for charset in charset_candidates(declared):
        try:
            text = data.decode(charset)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
        # A "charset" such as raw_unicode_escape or utf-7 can make lone surrogates, which no
        # page can carry: that decoding is refused like a failed one.
        if not _SURROGATES.search(text):
            return text
    return data.decode("latin-1")


def raw_to_text(value: str) -> str:
    """Undeclared 8-bit bytes (kept by the parser as surrogate escapes) to text: RFC 6532
    UTF-8 where they are valid UTF-8, windows-1252 (Latin-1 as sent in practice) where not."""
    if not any("\udc80" <= char <= "\udcff" for char in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return _HIGH_BYTES.sub(lambda run: _high_run(run.group()).encode("utf-8"), data).decode(
        "utf-8", "replace"
    )


def _high_run(run: bytes) -> str:
    try:
        return run.decode("utf-8")
    except UnicodeDecodeError:
        # The five bytes windows-1252 leaves undefined are C1 controls in Latin-1: dropped later.
        return "".join(_cp1252_byte(byte) for byte in run)


def _cp1252_byte(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return ""


# -- values --------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """A decoded value made safe to show or reuse: no line break, no control character."""
    text = _CONTROLS.sub("", _BREAKS.sub(" ", text))
    return re.sub(r"\s{2,}", " ", text).strip()


def decode_words(value: str) -> str:
    """RFC 2047 encoded words to text, tolerating broken ones and raw 8-bit bytes.

    Whitespace between two encoded words is not part of the text (RFC 2047 section 6.2);
    whitespace between a word and plain text is. Adjacent words in one charset are joined
    before decoding, since senders split a character across two words.
    """
    value = raw_to_text(value)
    if "=?" not in value:
        return value
    pieces: list[str] = []
    pending: tuple[str, bytearray] | None = None
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        decoded = _word_bytes(match.group(2), match.group(3))
        charset = match.group(1).split("*", 1)[0].lower()
        joined = pending is not None and not between.strip() and decoded is not None
        if pending is not None and not (joined and pending[0] == charset):
            pieces.append(decode_bytes(bytes(pending[1]), pending[0]))
            pending = None
        if not joined:
            pieces.append(between)
        if decoded is None:
            pieces.append(match.group())  # not a valid word: shown as it came
        elif pending is None:
            pending = (charset, bytearray(decoded))
        else:
            pending[1].extend(decoded)
        position = match.end()
    if pending is not None:
        pieces.append(decode_bytes(bytes(pending[1]), pending[0]))
    pieces.append(value[position:])
    return "".join(pieces)


def _word_bytes(encoding: str, text: str) -> bytes | None:
    if encoding in "Bb":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
        try:
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return None
    out = bytearray()
    # re.split with a group alternates literal text and the hex digits of each =XX escape.
    for index, piece in enumerate(re.split(r"=([0-9A-Fa-f]{2})", text.replace("_", " "))):
        if index % 2:
            out.append(int(piece, 16))
        else:
            out.extend(piece.encode("utf-8", "surrogateescape"))
    return bytes(out)


def text_value(raw: str | None) -> str:
    """A free-text header (Subject, Message-ID…) from its raw value."""
    return one_line(decode_words(raw)) if raw else ""


def raw_value(message: Message, name: str) -> str | None:
    """The first value of a header as the parser stored it, never a structured object."""
    for key, value in message.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def raw_values(message: Message, name: str) -> list[str]:
    return [str(value) for key, value in message.raw_items() if key.lower() == name]


def header_text(message: Message, name: str) -> str:
    return text_value(raw_value(message, name))


# -- addresses -----------------------------------------------------------------------------


def addresses(message: Message, name: str) -> list[Address]:
    return parse_addresses(raw_values(message, name))


# No real display name is this long; a hostile one would fill every list row it appears in.
NAME_LIMIT = 256


def parse_addresses(values: Iterable[str]) -> list[Address]:
    """Mailboxes from raw address headers, groups flattened. Tolerant on purpose: an unquoted
    comma in a display name ("DUPONT, Jean <j@…>") does not split it; ``foo`` and
    ``Name <>`` are kept so that the sender still has a name."""
    found: list[Address] = []
    for value in values:
        mailboxes = [_mailbox(chunk) for chunk in _split_list(raw_to_text(value))]
        dangling = ""
        for index, box in enumerate(mailboxes):
            following = mailboxes[index + 1] if index + 1 < len(mailboxes) else None
            if box.bare and following is not None and following.angled:
                dangling += box.text + ", "  # a display name's own comma, not a separator
                continue
            name = dangling + box.name if dangling else box.name
            dangling = ""
            if name or box.address:
                shown = one_line(decode_words(name))[:NAME_LIMIT]
                found.append(Address(name=shown, address=box.address))
    return found


@dataclass(frozen=True)
class _Mailbox:
    name: str
    address: str
    angled: bool = False  # the address was given in <…>
    text: str = ""  # the words as written, for a piece of a display name

    @property
    def bare(self) -> bool:
        """A lone word with no @, no <…> and no comment: maybe a piece of a display name."""
        return not self.angled and not self.name and "@" not in self.address


def _split_list(value: str) -> list[str]:
    """Top-level mailboxes: split on commas and group ends, outside quotes, comments, <> and
    encoded words (whose text may hold a colon or a comma of its own)."""
    if not _LIST_SYNTAX.search(value):
        return [value] if value.strip() else []  # one plain mailbox: lists are read by the page
    chunks: list[str] = []
    current: list[str] = []
    # Whether current holds an "@": kept as a flag, since joining current at every colon
    # made a header of colons quadratic (seconds of a blocked event loop for 100 KB).
    current_has_at = False
    quoted = escaped = False
    depth = angle = 0
    index = 0
    while index < len(value):
        char = value[index]
        word = _ENCODED_WORD.match(value, index) if char == "=" else None
        index += 1
        if escaped:
            escaped = False
        elif char == "\\" and (quoted or depth):
            escaped = True
        elif word is not None and not depth:
            current.append(word.group())
            current_has_at = current_has_at or "@" in word.group()
            index = word.end()
            continue
        elif quoted:
            quoted = char != '"'
        elif char == '"' and not depth:
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth:
            pass
        elif char == "<":
            angle += 1
        elif char == ">" and angle:
            angle -= 1
        elif not angle and char in ",;":
            chunks.append("".join(current))
            current, current_has_at = [], False
            continue
        elif not angle and char == ":" and not current_has_at:
            current = []  # a group's name: dropped, its members kept
            continue
        current.append(char)
        current_has_at = current_has_at or char == "@"
    chunks.append("".join(current))
    return [chunk for chunk in chunks if chunk.strip()]


def _mailbox(chunk: str) -> _Mailbox:
    words: list[str] = []
    comments: list[str] = []
    angle: str | None = None
    # Walk by index, never by slicing the rest: a hostile header may be a megabyte long.
    start = 0
    while start < len(chunk):
        char = chunk[start]
        if char == '"':
            end = _quoted_end(chunk, start)
            words.append(_unescape(chunk[start + 1 : end]))
        elif char == "(":
            end = _comment_end(chunk, start)
            comments.append(_unescape(chunk[start + 1 : end]))
        elif char == "<" and angle is None:
            end = chunk.find(">", start)
            end = len(chunk) if end < 0 else end
            angle = chunk[start + 1 : end]
        else:
            match = _PLAIN_RUN.match(chunk, start)
            assert match is not None
            words.append(match.group())
            start = match.end()
            continue
        start = end + 1
    comment = " ".join(comments)
    plain = " ".join(" ".join(words).split())
    if angle is not None:
        # Old source routes ("<@relay:user@host>") keep only the final address.
        return _Mailbox(plain or comment, _clean_address(angle.rpartition(":")[2]), angled=True)
    parts = plain.split(" ")
    at = next((index for index in reversed(range(len(parts))) if "@" in parts[index]), None)
    if at is None:
        # "foo": an address without a domain; "(Name)" alone: only a name.
        return _Mailbox(comment, _clean_address(plain), text=plain)
    # Old form "user@host (Full Name)": the comment is the only name given.
    name = " ".join(parts[:at] + parts[at + 1 :])
    return _Mailbox(name or comment, _clean_address(parts[at]))


def _quoted_end(text: str, start: int) -> int:
    """Index of the quote closing the quoted string opened at start (or the end of text)."""
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return index
        index += 1
    return len(text)


def _comment_end(text: str, start: int) -> int:
    """Index of the parenthesis closing the comment opened at start (or the end of text)."""
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return index
        index += 1
    return len(text)


def _unescape(text: str) -> str:
    return _QUOTED_PAIR.sub(r"\1", text)


def _clean_address(address: str) -> str:
    return re.sub(r"\s", "", one_line(address))


# -- dates ---------------------------------------------------------------------------------


def parse_date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = parsedate_to_datetime(one_line(raw_to_text(raw)))
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def header_date(message: Message) -> datetime | None:
    return parse_date(raw_value(message, "date"))


def parse_headers(block: bytes) -> Message:
    """A header block parsed the fast way, for lists: the stdlib's modern policy costs
    milliseconds a message, the legacy one microseconds. Every value is then decoded from
    its raw text by the functions above, the same for lists and the reading view."""
    return BytesHeaderParser(policy=email.policy.compat32).parsebytes(block)
