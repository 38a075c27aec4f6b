"""The benchmark's mailbox: 10,000 messages in INBOX, a fifth carrying a 0.1-3 MB PDF.

Seeded once into a stack kept between runs (its state directory holds a marker naming what
was seeded); a later run reuses it. Messages go in with MULTIAPPEND and LITERAL+ on one
connection (dev.seed). PDF parts are built with the C base64 encoder, not the email package,
which encodes line by line in Python (minutes for the 2 GB of this mailbox).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

from dev.corpus import demo_messages
from dev.seed import Message, seed_mailbox
from dev.stack import Stack

USER, PASSWORD = "bench@medecin.mssante.test", "bench-password-2026"
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
PDF_EVERY = 5  # a fifth of the messages
PDF_MIN, PDF_MAX = 100_000, 3_000_000
_CONTENT_HEADER = re.compile(rb"^(content-|mime-version:)", re.IGNORECASE)
_NOISE = random.Random(2026).randbytes(PDF_MAX + 4096)


def pdf_size(n: int) -> int:
    """Log-uniform between 0.1 and 3 MB: most attachments are small, some are big scans."""
    low, high = math.log(PDF_MIN), math.log(PDF_MAX)
    return int(math.exp(random.Random(n).uniform(low, high)))


def pdf(size: int, n: int) -> bytes:
    start = n % 4096
    return b"%PDF-1.4\n" + _NOISE[start : start + size - 9]


def with_pdf(raw: bytes, size: int, n: int) -> bytes:
    """The message with its body as the first part of a multipart/mixed and a PDF after it."""
    head, _, body = raw.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    content: list[bytes] = []
    target = kept
    for line in head.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):
            target = content if _CONTENT_HEADER.match(line) else kept
        target.append(line)
    if not any(line.lower().startswith(b"content-type:") for line in content):
        content.append(b"Content-Type: text/plain; charset=utf-8")
    content = [line for line in content if not line.lower().startswith(b"mime-version:")]
    boundary = f"=_bench_{n}".encode()
    encoded = base64.encodebytes(pdf(size, n)).replace(b"\n", b"\r\n")
    return b"\r\n".join(
        [
            *kept,
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"',
            b"",
            b"--" + boundary,
            *content,
            b"",
            body,
            b"--" + boundary,
            b'Content-Type: application/pdf; name="compte-rendu.pdf"',
            b'Content-Disposition: attachment; filename="compte-rendu.pdf"',
            b"Content-Transfer-Encoding: base64",
            b"",
            encoded + b"--" + boundary + b"--",
            b"",
        ]
    )


def inbox(messages: int) -> Iterator[Message]:
    found = (m for m in demo_messages(USER, messages, now=NOW) if m[0] == "INBOX")
    for n, (folder, flags, when, raw) in enumerate(found):
        if n % PDF_EVERY == 0:
            raw = with_pdf(raw, pdf_size(n), n)
        yield folder, flags, when, raw


def ensure_seeded(stack: Stack, messages: int) -> float | None:
    """Seconds spent seeding, or None when the stack already held this mailbox."""
    marker = stack.state_dir / f"bench-seeded-{messages}"
    stack.add_user(USER, PASSWORD)
    if marker.exists():
        return None
    started = time.perf_counter()
    seed_mailbox(stack.imap_host, stack.imap, stack.ca_cert, USER, PASSWORD, inbox(messages))
    marker.write_text(f"{messages} messages, a fifth with a PDF\n", encoding="utf-8")
    return time.perf_counter() - started


def state_dir(base_port: int) -> Path:
    """Kept between runs (not a temporary directory): the seeded mailbox is reused."""
    path = Path("/var/tmp") / f"mss-bench-{base_port}"  # noqa: S108 - kept across runs on purpose
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path
