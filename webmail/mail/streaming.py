"""An attachment read from the server in slices and decoded as it goes, never held whole.

``BODY.PEEK[n]<offset.length>`` fetches one slice of the encoded part; the decoder turns each
slice into the file's bytes, keeping only the few characters that straddle two slices (an
unfinished base64 quantum, an unfinished quoted-printable line).
"""

from __future__ import annotations

import asyncio
import binascii
import quopri
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from webmail.mail.by_parts import OFF_LOOP_BYTES
from webmail.mail.imap import ImapClient

CHUNK_BYTES = 256 * 1024
# What the stdlib's base64 decoder ignores: anything outside the alphabet and padding.
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
STREAMED_ENCODINGS = frozenset({"base64", "quoted-printable", "7bit", "8bit", "binary", ""})


class Decoder:
    """Content-Transfer-Encoding undone slice by slice."""

    def __init__(self, encoding: str) -> None:
        if encoding not in STREAMED_ENCODINGS:
            raise ValueError(f"no streaming decoder for {encoding}")
        self.encoding = encoding
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        if self.encoding == "base64":
            # Padding ends the data in practice; what follows it is ignored like the stdlib.
            text = self.pending + _NOT_BASE64.sub(b"", data.split(b"=", 1)[0])
            usable = len(text) - len(text) % 4
            self.pending = text[usable:]
            if b"=" in data:
                self.encoding = "ended"
            return binascii.a2b_base64(text[:usable]) if usable else b""
        if self.encoding == "quoted-printable":
            text = self.pending + data
            cut = text.rfind(b"\n") + 1
            self.pending = text[cut:]
            return quopri.decodestring(text[:cut]) if cut else b""
        if self.encoding == "ended":
            return b""
        return data

    def flush(self) -> bytes:
        pending, self.pending = self.pending, b""
        if not pending:
            return b""
        if self.encoding in ("base64", "ended"):
            # A truncated last quantum: decoded as far as it goes, as the stdlib does.
            pending = pending[: len(pending) - len(pending) % 4 or None]
            padded = pending + b"=" * (-len(pending) % 4)
            try:
                return binascii.a2b_base64(padded)
            except binascii.Error:
                return b""
        return quopri.decodestring(pending)


SliceReader = Callable[[int, int], Awaitable[bytes | None]]


async def decoded_slices(
    read_slice: SliceReader, encoding: str, size: int, chunk: int = CHUNK_BYTES
) -> AsyncIterator[bytes]:
    """The decoded content of a part of ``size`` encoded octets, ``chunk`` octets at a time."""
    decoder = Decoder(encoding)
    offset = 0
    while offset < size:
        data = await read_slice(offset, chunk)
        if not data:
            break
        offset += len(data)
        # A slice is 256 KB: stripping and decoding it holds the loop for milliseconds.
        out = (
            await asyncio.to_thread(decoder.feed, data)
            if len(data) > OFF_LOOP_BYTES
            else decoder.feed(data)
        )
        if out:
            yield out
        if len(data) < chunk:
            break
    last = decoder.flush()
    if last:
        yield last


async def fetch_slice(
    imap: ImapClient, uid: int, part_id: str, offset: int, length: int
) -> bytes | None:
    """One slice of a part's encoded body; None when the message is gone."""
    items = await imap.fetch([uid], f"(UID BODY.PEEK[{part_id}]<{offset}.{length}>)")
    for item in items:
        data = item.data.get(f"BODY[{part_id}]")
        if item.uid == uid:
            return data if isinstance(data, bytes) else b""
    return None
