"""Fill a mailbox through IMAP, for the demo and the tests.

Messages go in with MULTIAPPEND and non-synchronising literals (LITERAL+), one batch of
up to 200 messages per folder and round trip: one APPEND per message, waiting each time
for the "+" continuation, is several times slower. Servers without these extensions get
plain APPENDs.
"""

from __future__ import annotations

import base64
import imaplib
import re
import ssl
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

Message = tuple[str, tuple[str, ...], datetime, bytes]
"""(folder, flags, internal date, raw RFC 5322 message)"""

BATCH_MESSAGES = 200
BATCH_BYTES = 8 * 1024 * 1024
TIMEOUT = 60.0
_LINE_ENDING = re.compile(rb"\r?\n")


def seed_mailbox(
    host: str,
    port: int,
    ca_cert: Path | str,
    address: str,
    password: str,
    messages: Iterable[Message],
) -> int:
    """APPEND messages to the mailbox over STARTTLS, creating folders; return the count."""
    imap = imaplib.IMAP4(host, port, timeout=TIMEOUT)
    try:
        imap.starttls(ssl.create_default_context(cafile=str(ca_cert)))
        imap.login(address, password)
        count = _append_all(imap, messages)
        imap.logout()
    except BaseException:
        imap.shutdown()
        raise
    return count


def _append_all(imap: imaplib.IMAP4, messages: Iterable[Message]) -> int:
    fast = {"MULTIAPPEND", "LITERAL+"} <= _capabilities(imap)
    folders = _existing_folders(imap)
    count = 0
    for folder, batch in _batches(messages):
        if folder not in folders:
            _create_folder(imap, folder)
            folders.add(folder)
        if fast:
            _multiappend(imap, folder, batch)
        else:
            for message in batch:
                _append_one(imap, folder, message)
        count += len(batch)
    return count


def _capabilities(imap: imaplib.IMAP4) -> set[str]:
    # Asked again: the list imaplib kept from before login lacks most extensions.
    status, data = imap.capability()
    if status != "OK" or not data or not isinstance(data[-1], bytes):
        return set()
    return set(data[-1].decode("ascii", errors="replace").upper().split())


def _batches(messages: Iterable[Message]) -> Iterator[tuple[str, list[Message]]]:
    """(folder, messages) batches; the order of the messages within a folder is kept."""
    pending: dict[str, list[Message]] = {}
    sizes: dict[str, int] = {}
    for message in messages:
        folder, size = message[0], len(message[3])
        batch = pending.setdefault(folder, [])
        if batch and (len(batch) >= BATCH_MESSAGES or sizes[folder] + size > BATCH_BYTES):
            yield folder, batch
            batch = pending[folder] = []
            sizes[folder] = 0
        batch.append(message)
        sizes[folder] = sizes.get(folder, 0) + size
    yield from pending.items()


def _multiappend(imap: imaplib.IMAP4, folder: str, batch: list[Message]) -> None:
    tag = b"SEED"
    parts = [tag, b" APPEND ", _quote(encode_mailbox_name(folder))]
    for _, flags, internal_date, raw in batch:
        body = crlf(raw)
        parts += [b" ", _flag_list(flags), b" ", _date(internal_date)]
        parts += [b" {%d+}\r\n" % len(body), body]
    parts.append(b"\r\n")
    imap.send(b"".join(parts))
    _expect_ok(imap, tag, folder)


def _expect_ok(imap: imaplib.IMAP4, tag: bytes, folder: str) -> None:
    """Read up to the tagged reply; untagged lines (EXISTS...) are of no interest here."""
    while True:
        line = imap.readline()
        if not line:
            raise imaplib.IMAP4.abort("connection closed during APPEND")
        if line.startswith(tag + b" "):
            status = line[len(tag) + 1 :].strip()
            if not status.startswith(b"OK"):
                text = status.decode(errors="replace")
                raise imaplib.IMAP4.error(f"APPEND to {folder!r} failed: {text}")
            return


def _append_one(imap: imaplib.IMAP4, folder: str, message: Message) -> None:
    _, flags, internal_date, raw = message
    mailbox = _quote(encode_mailbox_name(folder)).decode("ascii")
    status, data = imap.append(
        mailbox, _flag_list(flags).decode("ascii"), _date(internal_date).decode(), crlf(raw)
    )
    if status != "OK":
        raise imaplib.IMAP4.error(f"APPEND to {folder!r} failed: {data!r}")


def _existing_folders(imap: imaplib.IMAP4) -> set[str]:
    status, lines = imap.list()
    if status != "OK":
        raise imaplib.IMAP4.error(f"LIST failed: {lines!r}")
    folders = {"INBOX"}
    for line in lines:
        if isinstance(line, bytes):
            name = line.rsplit(b' "/" ', 1)[-1].strip()
            folders.add(decode_mailbox_name(_unquote(name)))
    return folders


def _create_folder(imap: imaplib.IMAP4, folder: str) -> None:
    mailbox = _quote(encode_mailbox_name(folder)).decode("ascii")
    status, data = imap.create(mailbox)
    if status != "OK" and b"ALREADYEXISTS" not in b"".join(d for d in data if d):
        raise imaplib.IMAP4.error(f"CREATE {folder!r} failed: {data!r}")
    # Webmails often show subscribed folders only.
    imap.subscribe(mailbox)


# -- wire formats ------------------------------------------------------------------------------


def crlf(raw: bytes) -> bytes:
    """IMAP wants CRLF line endings; generators and files often have bare LF."""
    return _LINE_ENDING.sub(b"\r\n", raw)


def _flag_list(flags: tuple[str, ...]) -> bytes:
    # \Recent belongs to the server and cannot be set.
    kept = [flag for flag in flags if flag.lower() != "\\recent"]
    return b"(" + " ".join(kept).encode("ascii") + b")"


def _date(internal_date: datetime) -> bytes:
    # Time2Internaldate is locale-independent and quotes, but wants an aware datetime:
    # a naive one is taken as local time.
    if internal_date.tzinfo is None:
        internal_date = internal_date.astimezone()
    return imaplib.Time2Internaldate(internal_date).encode("ascii")


def _quote(name: bytes) -> bytes:
    return b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _unquote(name: bytes) -> bytes:
    if name.startswith(b'"') and name.endswith(b'"'):
        return re.sub(rb"\\(.)", rb"\1", name[1:-1])
    return name


def encode_mailbox_name(name: str) -> bytes:
    """IMAP modified UTF-7 (RFC 3501 5.1.3): French folder names have accents."""
    out: list[bytes] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be")
            out.append(b"&" + base64.b64encode(utf16).rstrip(b"=").replace(b"/", b",") + b"-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append(b"&-" if char == "&" else char.encode("ascii"))
        else:
            pending.append(char)
    flush()
    return b"".join(out)


def decode_mailbox_name(name: bytes) -> str:
    """The inverse of encode_mailbox_name()."""
    pieces = re.split(rb"&([A-Za-z0-9+,]*)-", name)
    text: list[str] = []
    # re.split alternates plain ASCII and the captured base64 runs.
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            text.append(piece.decode("ascii"))
        elif not piece:
            text.append("&")
        else:
            padded = piece.replace(b",", b"/") + b"=" * (-len(piece) % 4)
            text.append(base64.b64decode(padded).decode("utf-16-be"))
    return "".join(text)


# -- shared (organisational) mailboxes ---------------------------------------------------------

# RFC 4314 rights of someone who works in an organisational mailbox: read, mark, file, delete.
WORK_RIGHTS = "lrswipte"
SHARED_FOLDERS = ("INBOX", "Sent", "Drafts", "Trash")


class _Sharing(Protocol):
    def share_mailbox(
        self, owner: str, grantee: str, rights: str, folder: str = "INBOX"
    ) -> None: ...

    def allow_sender(self, address: str, login: str) -> None: ...


def share_mailbox(
    stack: _Sharing,
    owner: str,
    grantees: Iterable[str],
    rights: str = WORK_RIGHTS,
    folders: Iterable[str] = SHARED_FOLDERS,
) -> None:
    """Open ``owner``'s folders to each grantee through the server's ACLs, and let them send
    from its address: how an operator sets up a secretariat for its practitioners and
    secretaries. The owner must have logged in once (its folders exist)."""
    for grantee in grantees:
        for folder in folders:
            stack.share_mailbox(owner, grantee, rights, folder)
        if "i" in rights:
            stack.allow_sender(owner, grantee)
