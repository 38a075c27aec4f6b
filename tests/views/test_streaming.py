"""Opening and downloading by parts, against the real Dovecot: what is fetched, what is sent.

The reading view of a message with a 3 MB PDF fetches its structure and its text, never the
whole message nor the PDF; the PDF is fetched when downloaded, in slices, and reaches the
browser byte for byte as a stream, the process never holding it whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import tracemalloc
from email.message import EmailMessage
from typing import Any

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, soup
from webmail.mail.imap import ImapClient


def pdf_of(size: int, seed: int = 11) -> bytes:
    rng = random.Random(seed)
    return b"%PDF-1.4\n" + rng.randbytes(size - 9)


def with_attachment(pdf: bytes, *, encoding: str = "base64") -> bytes:
    message = EmailMessage()
    message["From"] = "Dr A <dr.a@medecin.mssante.test>"
    message["To"] = "dr.b@medecin.mssante.test"
    message["Subject"] = "Compte rendu opératoire"
    message.set_content("Compte rendu ci-joint.\n")
    message.add_attachment(
        pdf, maintype="application", subtype="pdf", filename="compte-rendu opératoire.pdf"
    )
    raw = message.as_bytes()
    if encoding == "quoted-printable":
        import quopri

        part = message.get_payload()[1]
        body = quopri.encodestring(pdf)
        part.set_payload(body.decode("ascii"))
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = "quoted-printable"
        raw = message.as_bytes()
    return raw


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    return record_every_command(monkeypatch)


def record_every_command(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every command any connection of the process sends, still sent to the real server."""
    commands: list[tuple[str, ...]] = []
    real = ImapClient._command

    async def recording(self: ImapClient, name: str, *args: str, **kwargs: Any) -> Any:
        commands.append((name, *args))
        return await real(self, name, *args, **kwargs)

    monkeypatch.setattr(ImapClient, "_command", recording)
    return commands


def fetches(commands: list[tuple[str, ...]]) -> list[str]:
    return [" ".join(command[1:]) for command in commands if command[0] == "FETCH"]


def test_the_reading_view_fetches_neither_the_message_nor_the_pdf(
    logged_in: TestClient, stack: Stack, user: MailUser, sent: list[tuple[str, ...]]
) -> None:
    uid = deliver(stack, user, with_attachment(pdf_of(3_000_000)))
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    html = soup(page.text)
    assert "Compte rendu ci-joint." in html.get_text()
    names = [name.get_text() for name in html.select(".att-name")]
    assert names == ["compte-rendu opératoire.pdf"]
    fetched = " ".join(fetches(sent))
    assert "BODYSTRUCTURE" in fetched and "BODY.PEEK[1]" in fetched
    assert "BODY.PEEK[]" not in fetched
    assert "BODY.PEEK[2]" not in fetched  # the PDF


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable"])
def test_a_download_is_byte_identical_and_fetched_in_slices(
    logged_in: TestClient,
    stack: Stack,
    user: MailUser,
    sent: list[tuple[str, ...]],
    encoding: str,
) -> None:
    pdf = pdf_of(1_200_000)
    if encoding == "quoted-printable":
        # QP keeps line breaks as line breaks (CRLF on the wire): a file without any.
        pdf = pdf.replace(b"\n", b" ").replace(b"\r", b" ")
    uid = deliver(stack, user, with_attachment(pdf, encoding=encoding))
    response = logged_in.get(f"/mail/attachment?folder=INBOX&uid={uid}&part=2")
    assert response.status_code == 200
    assert response.content == pdf
    assert response.headers["content-type"] == "application/pdf"
    assert "content-length" not in response.headers  # streamed, its length unknown up front
    assert "compte-rendu%20op%C3%A9ratoire.pdf" in response.headers["content-disposition"]
    slices = [f for f in fetches(sent) if "BODY.PEEK[2]<" in f]
    assert len(slices) >= 4
    assert not [f for f in fetches(sent) if "BODY.PEEK[]" in f]


def test_a_3mb_download_never_holds_the_file_whole(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    peaks = []
    for size in (600_000, 3_000_000):
        pdf = pdf_of(size)
        uid = deliver(stack, user, with_attachment(pdf))
        logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")  # the structure is known
        digest, received, peak = logged_in.portal.call(  # type: ignore[union-attr]
            download_counting, logged_in, f"folder=INBOX&uid={uid}&part=2"
        )
        assert (digest, received) == (hashlib.sha256(pdf).hexdigest(), len(pdf))
        peaks.append(peak)
    # Whole, 3 MB is 4 MB of base64 and 3 MB decoded, parsed: in slices the peak is below the
    # file's own size, and five times the file costs no more than a slice or two more.
    small, big = peaks
    assert big < 3_000_000, peaks
    assert big < small + 600_000, peaks


async def download_counting(client: TestClient, query: str) -> tuple[str, int, int]:
    """GET the attachment straight through the ASGI app, in the app's own event loop, keeping
    a digest of the body and not the body: the peak memory is then the app's own."""
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/mail/attachment",
        "raw_path": b"/mail/attachment",
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    digest = hashlib.sha256()
    received = {"size": 0, "status": 0}

    requested = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if requested.is_set():
            await asyncio.Event().wait()  # the browser stays until the response ends
        requested.set()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            received["status"] = message["status"]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            digest.update(body)
            received["size"] += len(body)

    tracemalloc.start()
    try:
        await client.app(scope, receive, send)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received["status"] == 200
    return digest.hexdigest(), received["size"], peak
