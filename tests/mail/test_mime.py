"""The MIME parser against the golden corpus in tests/messages (see its README)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from webmail.mail import mime
from webmail.mail.sanitize import sanitize_html

MESSAGES = Path(__file__).resolve().parent.parent / "messages"
CASES = sorted(MESSAGES.glob("*.eml"))


def expected_for(path: Path) -> dict[str, object]:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def addresses(found: list[mime.Address]) -> list[dict[str, str]]:
    return [{"name": a.name, "address": a.address} for a in found]


def test_corpus_is_there() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=[case.stem for case in CASES])
def test_golden_message(path: Path) -> None:
    expected = expected_for(path)
    parsed = mime.parse_message(path.read_bytes())
    assert parsed.subject == expected["subject"]
    assert addresses(parsed.from_) == expected["from"]
    assert addresses(parsed.to) == expected["to"]
    assert addresses(parsed.cc) == expected["cc"]
    if expected["date"] is None:
        assert parsed.date is None
    else:
        assert parsed.date == datetime.fromisoformat(str(expected["date"]))
    assert (parsed.text is not None) == expected["has_text"]
    assert (parsed.html is not None) == expected["has_html"]
    for fragment in expected["text_contains"]:  # type: ignore[union-attr]
        assert fragment in (parsed.text or ""), fragment
    cleaned = sanitize_html(parsed.html or "", lambda cid: "/inline").html
    for forbidden in expected["html_must_not_contain"]:  # type: ignore[union-attr]
        assert forbidden.lower() not in cleaned.lower(), forbidden
    assert [
        {"filename": a.filename, "content_type": a.content_type, "size": a.size}
        for a in parsed.attachments
    ] == expected["attachments"]
    assert parsed.kind == expected["kind"]


@pytest.mark.parametrize("path", CASES, ids=[case.stem for case in CASES])
def test_every_attachment_can_be_fetched_by_its_part_id(path: Path) -> None:
    raw = path.read_bytes()
    for attachment in mime.parse_message(raw).attachments:
        content = mime.part_content(raw, attachment.part_id)
        assert content is not None and len(content) == attachment.size


@pytest.mark.parametrize(
    "name", ["", "../../etc/passwd", "C:\\Windows\\x.exe", "\x00\x1b.pdf", "." * 5]
)
def test_safe_filename_is_only_a_name(name: str) -> None:
    safe = mime.safe_filename(name, "application/pdf")
    assert safe and "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert all(ord(char) >= 32 for char in safe)


def test_display_subject_hides_the_xdm_prefix() -> None:
    assert (
        mime.display_subject("XDM/1.0/DDM+CR MARTIN Paul 12/03/1948") == "CR MARTIN Paul 12/03/1948"
    )
    assert mime.display_subject("RE: suivi") == "RE: suivi"


@pytest.mark.parametrize("path", CASES, ids=[case.stem for case in CASES])
def test_quick_header_path_used_by_lists_agrees(path: Path) -> None:
    """Message lists read headers the fast way; they must show what the full parser shows."""
    expected = expected_for(path)
    block = path.read_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    headers = mime.parse_headers(block)
    assert mime.quick_text(headers, "subject") == expected["subject"]
    assert addresses(mime.quick_addresses(headers, "from")) == expected["from"]
    assert addresses(mime.quick_addresses(headers, "to")) == expected["to"]
    if expected["date"] is not None:
        assert mime.quick_date(headers) == datetime.fromisoformat(str(expected["date"]))


def test_multipart_bomb_is_survived() -> None:
    depth = 3000
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    closing = "".join(f"\r\n--b{i}--\r\n" for i in reversed(range(depth)))
    raw = (
        "From: a@example.org\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n"
        + opening
        + "Content-Type: text/plain\r\n\r\ndeep\r\n"
        + closing
    ).encode()
    parsed = mime.parse_message(raw)
    assert parsed.subject == "bomb"
    assert parsed.text is None and parsed.attachments == []


def test_many_attachments_are_all_listed() -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Lot"
    message.set_content("x")
    for number in range(300):
        message.add_attachment(
            b"%PDF", maintype="application", subtype="pdf", filename=f"{number}.pdf"
        )
    parsed = mime.parse_message(message.as_bytes())
    assert [a.filename for a in parsed.attachments][-1] == "299.pdf"
    assert len(parsed.attachments) == 300
