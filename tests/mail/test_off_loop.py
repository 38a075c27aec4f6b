"""Work moved off the event loop gives the same result as on it: big slices of an attachment
decoded in a thread, big literals read without being formatted into a log message."""

from __future__ import annotations

import asyncio
import base64
import logging
import quopri
import random
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import aioimaplib
import pytest

from dev.stack import Stack
from tests.conftest import MailUser, deliver
from webmail.mail import streaming
from webmail.mail.by_parts import OFF_LOOP_BYTES
from webmail.mail.connections import make_ssl_context
from webmail.mail.imap import ImapClient
from webmail.settings import Settings

PDF = b"%PDF-1.4\n" + random.Random(11).randbytes(900_000)


def threads_used(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    called: list[Callable[..., Any]] = []
    real = asyncio.to_thread

    async def recorded(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        called.append(function)
        return await real(function, *args, **kwargs)

    monkeypatch.setattr(streaming.asyncio, "to_thread", recorded)
    return called


async def decode_all(encoded: bytes, encoding: str, chunk: int) -> bytes:
    async def read_slice(offset: int, length: int) -> bytes | None:
        return encoded[offset : offset + length]

    return b"".join(
        [part async for part in streaming.decoded_slices(read_slice, encoding, len(encoded), chunk)]
    )


TEXT = "Résultats du bilan sanguin : créatinine 88 µmol/l, à revoir.\n".encode() * 9000


@pytest.mark.parametrize(
    ("encoding", "encode", "content"),
    [("base64", base64.encodebytes, PDF), ("quoted-printable", quopri.encodestring, TEXT)],
)
async def test_big_slices_decode_in_a_thread_to_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
    encode: Callable[[bytes], bytes],
    content: bytes,
) -> None:
    encoded = encode(content)
    called = threads_used(monkeypatch)
    # Slices that cut base64 quanta and quoted-printable lines anywhere.
    assert await decode_all(encoded, encoding, 256 * 1024 + 3) == content
    assert called and all(f.__name__ == "feed" for f in called)


async def test_small_slices_stay_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = base64.encodebytes(PDF[:200_000])
    called = threads_used(monkeypatch)
    assert await decode_all(encoded, "base64", OFF_LOOP_BYTES // 2) == PDF[:200_000]
    assert called == []


async def test_hostile_base64_decodes_as_far_as_it_goes_in_a_thread_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded = base64.encodebytes(PDF)[:-7] + b"!!\x00\xff not base64 at all"
    threads_used(monkeypatch)
    on_thread = await decode_all(encoded, "base64", 256 * 1024)
    on_loop = await decode_all(encoded, "base64", len(encoded) + 1)  # one slice, one feed
    assert on_thread == on_loop and PDF.startswith(on_thread[: len(PDF) - 16])


async def test_a_big_literal_is_read_whole_and_kept_out_of_the_debug_log(
    stack: Stack, user: MailUser, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    message = EmailMessage()
    message["From"] = "dr.a@medecin.mssante.test"
    message["To"] = user.address
    message["Subject"] = "Compte rendu"
    message.set_content("Ci-joint.")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="cr.pdf")
    raw = message.as_bytes().replace(b"\n", b"\r\n")
    uid = deliver(stack, user, raw)
    caplog.set_level(logging.DEBUG, logger=aioimaplib.aioimaplib.log.name)
    imap = await ImapClient.connect(settings.imap, make_ssl_context(settings), 5)
    try:
        await imap.login(user.address, user.password)
        await imap.select("INBOX")
        fetched = await imap.fetch_message(uid)
    finally:
        await imap.logout()
    assert fetched == raw
    assert not [r for r in caplog.records if "Received" in r.getMessage()]
