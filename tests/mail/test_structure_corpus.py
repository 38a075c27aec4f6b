"""Opening by parts shows what the whole-message parser shows, on real Dovecot's BODYSTRUCTURE.

Every message of the golden corpus (tests/messages) and of the demo corpus (dev/corpus.py) is
stored in a mailbox, then read both ways: the parts model (texts, HTML, files, inline images,
headers) must be the same, or the message must fall back to the whole-message path.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dev.corpus import demo_messages
from dev.stack import Stack
from tests.conftest import deliver, new_user
from tests.other_servers import connected, record_commands
from webmail.mail import by_parts, mime
from webmail.mail.parts import Attachment

MESSAGES = Path(__file__).resolve().parent.parent / "messages"


def corpus() -> list[bytes]:
    golden = [path.read_bytes() for path in sorted(MESSAGES.glob("*.eml"))]
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    demo = [
        raw for _f, _flags, _at, raw in demo_messages("dr.test@medecin.mssante.test", 60, now=now)
    ]
    return golden + demo


def files(found: list[Attachment] | tuple[Attachment, ...]) -> list[tuple[Any, ...]]:
    # Sizes come from BODYSTRUCTURE (encoded octets) by parts: compared within a margin below.
    return [(a.part_id, a.filename, a.content_type, a.content_id, files(a.contents)) for a in found]


def sizes(found: list[Attachment] | tuple[Attachment, ...]) -> list[int]:
    flat: list[int] = []
    for a in found:
        flat += [a.size, *sizes(a.contents)]
    return flat


def model(message: mime.ParsedMessage) -> dict[str, Any]:
    data = dataclasses.asdict(message)
    data["attachments"] = files(message.attachments)
    return data


async def test_by_parts_shows_what_the_whole_message_shows(stack: Stack) -> None:
    user = new_user(stack)
    messages = corpus()
    uids = [deliver(stack, user, raw) for raw in messages]
    read_by_parts = fell_back = 0
    async with connected(
        stack.imap_host, stack.imap, str(stack.ca_cert), user.address, user.password
    ) as imap:
        await imap.select("INBOX")
        for uid in uids:
            whole = mime.parse_or_plain(await imap.fetch_message(uid) or b"")
            parted = await by_parts.read(imap, by_parts.Overviews(), uid)
            if parted is None:
                fell_back += 1
                continue
            read_by_parts += 1
            subject = whole.subject
            assert model(parted) == model(whole), subject
            for old, new in zip(sizes(whole.attachments), sizes(parted.attachments), strict=True):
                assert abs(old - new) <= old * 0.03 + 64, (subject, old, new)
    assert read_by_parts >= len(messages) * 0.9, (read_by_parts, fell_back)


async def test_the_reading_view_never_fetches_the_whole_message(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user(stack)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 12_000  # 3 MB
    uid = deliver(stack, user, with_pdf(pdf))
    async with connected(
        stack.imap_host, stack.imap, str(stack.ca_cert), user.address, user.password
    ) as imap:
        await imap.select("INBOX")
        sent = record_commands(monkeypatch, imap)
        parted = await by_parts.read(imap, by_parts.Overviews(), uid)
    assert parted is not None
    assert parted.text is not None and "Compte rendu ci-joint" in parted.text
    assert [a.filename for a in parted.attachments] == ["compte-rendu.pdf"]
    fetched = " ".join(" ".join(command) for command in sent if command[0] == "FETCH")
    assert "BODYSTRUCTURE" in fetched
    assert "BODY.PEEK[]" not in fetched and "BODY.PEEK[2]" not in fetched
    assert "BODY.PEEK[1]" in fetched


def with_pdf(pdf: bytes) -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "dr.a@medecin.mssante.test"
    message["To"] = "dr.b@medecin.mssante.test"
    message["Subject"] = "Compte rendu"
    message.set_content("Compte rendu ci-joint.\n")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="compte-rendu.pdf")
    return message.as_bytes()
