"""Pure parsing of IMAP response data (RFC 3501/9051) and modified UTF-7 mailbox names.

aioimaplib hands back a response as a list of lines where each literal ``{n}`` is a separate
bytearray. We rebuild the wire form and parse it with a real tokenizer, because literals can
appear anywhere (folder names, header blocks) and quoted strings may contain parentheses.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Value = bytes | int | None | list["Value"]


class ImapSyntaxError(ValueError):
    """The server sent something this parser cannot read."""


def rebuild_wire(lines: Sequence[bytes | bytearray]) -> bytes:
    """Turn aioimaplib response lines (without the final tagged text) back into wire bytes."""
    out = bytearray()
    after_literal = False
    for element in lines:
        if isinstance(element, bytearray):
            out += element
            after_literal = True
            continue
        if after_literal and not element.startswith((b" ", b")")):
            # The literal ended its line: aioimaplib drops the empty rest of that line, and
            # the grammar only allows SP or ")" after a literal within one response.
            out += b"\r\n"
        out += element
        out += b"\r\n"
        after_literal = False
    return bytes(out)


_ATOM_END = frozenset(b' ()[]{}"\r\n')


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self) -> int:
        return self.data[self.pos]

    def skip_spaces(self) -> None:
        while self.pos < len(self.data) and self.data[self.pos] == 0x20:
            self.pos += 1

    def at_line_end(self) -> bool:
        return self.data.startswith(b"\r\n", self.pos)

    def read_line_values(self) -> list[Value]:
        values: list[Value] = []
        while True:
            self.skip_spaces()
            if self.at_end():
                return values
            if self.at_line_end():
                self.pos += 2
                return values
            values.append(self.read_value())

    def read_value(self) -> Value:
        char = self.peek()
        if char == ord("("):
            return self.read_list()
        if char == ord('"'):
            return self.read_quoted()
        if char == ord("{"):
            return self.read_literal()
        return self.read_atom()

    def read_list(self) -> list[Value]:
        self.pos += 1
        items: list[Value] = []
        while True:
            self.skip_spaces()
            if self.at_end():
                raise ImapSyntaxError("unterminated list")
            if self.peek() == ord(")"):
                self.pos += 1
                return items
            if self.at_line_end():
                # Lenient: some servers fold long lists; treat the line break as a space.
                self.pos += 2
                continue
            items.append(self.read_value())

    def read_quoted(self) -> bytes:
        self.pos += 1
        out = bytearray()
        while not self.at_end():
            char = self.data[self.pos]
            if char == ord("\\") and self.pos + 1 < len(self.data):
                out.append(self.data[self.pos + 1])
                self.pos += 2
                continue
            if char == ord('"'):
                self.pos += 1
                return bytes(out)
            out.append(char)
            self.pos += 1
        raise ImapSyntaxError("unterminated quoted string")

    def read_literal(self) -> bytes:
        end = self.data.find(b"}", self.pos)
        if end < 0:
            raise ImapSyntaxError("bad literal")
        size_text = self.data[self.pos + 1 : end].rstrip(b"+")
        if not size_text.isdigit():
            raise ImapSyntaxError("bad literal size")
        size = int(size_text)
        start = end + 1
        if self.data.startswith(b"\r\n", start):
            start += 2
        self.pos = start + size
        if self.pos > len(self.data):
            raise ImapSyntaxError("truncated literal")
        return self.data[start : self.pos]

    def read_atom(self) -> Value:
        start = self.pos
        while not self.at_end():
            char = self.data[self.pos]
            if char == ord("["):
                # BODY[HEADER.FIELDS (A B)]<0> and [UIDVALIDITY 3]: keep brackets in the atom.
                close = self.data.find(b"]", self.pos)
                if close < 0:
                    raise ImapSyntaxError("unterminated section")
                self.pos = close + 1
                continue
            if char in _ATOM_END and char != ord("]"):
                break
            self.pos += 1
        atom = self.data[start : self.pos]
        if not atom:
            # Unexpected delimiter: skip it so a stray character cannot loop forever.
            self.pos += 1
            return b""
        if atom.isdigit():
            return int(atom)
        if atom.upper() == b"NIL":
            return None
        return atom


def parse_lines(lines: Sequence[bytes | bytearray]) -> list[list[Value]]:
    """Parse every untagged response in ``lines`` into lists of values ("* " removed)."""
    reader = _Reader(rebuild_wire(lines))
    responses: list[list[Value]] = []
    while not reader.at_end():
        values = reader.read_line_values()
        if values and values[0] == b"*":
            values = values[1:]
        if values:
            responses.append(values)
    return responses


@dataclass(frozen=True)
class Namespace:
    prefix: str  # decoded from modified UTF-7, e.g. "INBOX." or ""
    delimiter: str | None  # None on a flat server


def parse_namespace(lines: Sequence[bytes | bytearray]) -> list[Namespace]:
    """The personal namespaces of a ``* NAMESPACE`` answer (RFC 2342), in the server's order.

    ``* NAMESPACE (("INBOX." ".")) NIL NIL``: the first list is personal, then other users'
    and shared ones (``namespace_section`` reads those).
    """
    return namespace_section(lines, 0)


def namespace_section(lines: Sequence[bytes | bytearray], index: int) -> list[Namespace]:
    """One section of a ``* NAMESPACE`` answer: 0 personal, 1 other users', 2 shared."""
    for response in parse_lines(lines):
        kind = response[0] if response else None
        if not isinstance(kind, bytes) or kind.upper() != b"NAMESPACE" or len(response) < 2:
            continue
        section = response[1 + index] if len(response) > 1 + index else None
        if not isinstance(section, list):
            return []  # NIL: no such namespace
        found = []
        for entry in section:
            if isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[0], bytes):
                delimiter = entry[1]
                found.append(
                    Namespace(
                        prefix=decode_mailbox(as_text(entry[0])),
                        delimiter=as_text(delimiter) if isinstance(delimiter, bytes) else None,
                    )
                )
        return found
    return []


@dataclass(frozen=True)
class FetchItem:
    seq: int
    data: dict[str, Value]

    @property
    def uid(self) -> int | None:
        uid = self.data.get("UID")
        return uid if isinstance(uid, int) else None


def parse_fetch(lines: Sequence[bytes | bytearray]) -> list[FetchItem]:
    items: list[FetchItem] = []
    for response in parse_lines(lines):
        if len(response) < 3 or not isinstance(response[0], int):
            continue
        kind, payload = response[1], response[2]
        if not (isinstance(kind, bytes) and kind.upper() == b"FETCH" and isinstance(payload, list)):
            continue
        items.append(FetchItem(response[0], _pairs(payload)))
    return items


def _pairs(payload: list[Value]) -> dict[str, Value]:
    data: dict[str, Value] = {}
    for index in range(0, len(payload) - 1, 2):
        key = payload[index]
        if isinstance(key, bytes):
            data[_normalise_key(key)] = payload[index + 1]
    return data


def _normalise_key(key: bytes) -> str:
    text = key.decode("ascii", "replace").upper()
    # BODY.PEEK[...] is answered as BODY[...]; drop the partial-fetch origin "<0>".
    return re.sub(r"<\d+>$", "", text.replace("BODY.PEEK[", "BODY["))


def search_numbers(lines: Iterable[bytes | bytearray], keyword: bytes) -> list[int]:
    """Numbers of every ``* SEARCH`` / ``* SORT`` line, in the server's order."""
    numbers: list[int] = []
    for line in lines:
        words = bytes(line).split()
        if words and words[0] == b"*":
            words = words[1:]
        if words and words[0].upper() == keyword:
            numbers.extend(int(word) for word in words[1:] if word.isdigit())
    return numbers


def esearch_all(lines: Iterable[bytes | bytearray]) -> list[int]:
    """The UIDs of ``* ESEARCH (TAG "x") UID COUNT n ALL 1:3,7`` (RFC 4731); none when
    nothing matched (the server then leaves ALL out)."""
    numbers: list[int] = []
    for line in lines:
        words = bytes(line).split()
        if words and words[0] == b"*":
            words = words[1:]
        if not words or words[0].upper() != b"ESEARCH":
            continue
        for index, word in enumerate(words[:-1]):
            if word.upper() == b"ALL":
                numbers.extend(sequence_set(words[index + 1].decode("ascii", "replace")))
    return numbers


def sequence_set(text: str) -> list[int]:
    """``1:3,7`` as [1, 2, 3, 7]; anything unreadable is left out."""
    numbers: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition(":")
        if low.isdigit() and (not high or high.isdigit()):
            first, last = sorted((int(low), int(high or low)))
            numbers.extend(range(first, last + 1))
    return numbers


_RESP_CODE = re.compile(rb"\[(?P<code>[A-Z-]+)(?: (?P<value>[^\]]*))?\]")


def response_codes(lines: Iterable[bytes | bytearray]) -> dict[str, bytes]:
    """Response codes such as UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, APPENDUID from any line."""
    codes: dict[str, bytes] = {}
    for line in lines:
        for match in _RESP_CODE.finditer(bytes(line)):
            codes[match.group("code").decode()] = match.group("value") or b""
    return codes


def count_of(lines: Iterable[bytes | bytearray], keyword: bytes) -> int | None:
    """The number in an ``* n EXISTS`` style line."""
    for line in lines:
        words = bytes(line).split()
        if words and words[0] == b"*":
            words = words[1:]
        if len(words) >= 2 and words[0].isdigit() and words[1].upper() == keyword:
            return int(words[0])
    return None


# Modified UTF-7 (RFC 3501 section 5.1.3) for mailbox names.


def encode_mailbox(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def decode_mailbox(name: str) -> str:
    def replace(match: re.Match[str]) -> str:
        chunk = match.group(1)
        if not chunk:
            return "&"
        padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
        try:
            return base64.b64decode(padded).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            return match.group(0)

    return re.sub(r"&([A-Za-z0-9+,]*)-", replace, name)


def quote(text: str) -> str:
    """An IMAP quoted string; callers must have rejected CR, LF and NUL already."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def as_text(value: Value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, int):
        return str(value)
    return ""
