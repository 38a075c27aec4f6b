"""The golden MIME corpus in tests/messages keeps to its contract (files, schema, fiction)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

MESSAGES = Path(__file__).resolve().parent.parent / "messages"
KEYS = {
    "subject",
    "from",
    "to",
    "cc",
    "date",
    "has_text",
    "has_html",
    "text_contains",
    "html_must_not_contain",
    "attachments",
    "kind",
}
FICTIONAL = (".test", ".example", "@example.org")
NAMES = sorted(path.stem for path in MESSAGES.glob("*.eml"))


def test_every_message_has_its_expectations() -> None:
    assert len(NAMES) >= 25
    assert sorted(path.stem for path in MESSAGES.glob("*.json")) == NAMES
    readme = (MESSAGES / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"`{name}`" in readme, f"{name} is not described in README.md"


@pytest.mark.parametrize("name", NAMES)
def test_message_file_uses_crlf(name: str) -> None:
    raw = (MESSAGES / f"{name}.eml").read_bytes()
    assert raw.endswith(b"\r\n")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert b"\n" not in raw.replace(b"\r\n", b"")


@pytest.mark.parametrize("name", NAMES)
def test_expectations_follow_the_schema(name: str) -> None:
    expected = json.loads((MESSAGES / f"{name}.json").read_text(encoding="utf-8"))
    assert set(expected) == KEYS
    assert isinstance(expected["subject"], str)
    assert expected["date"] is None or isinstance(expected["date"], str)
    assert expected["kind"] in {"mail", "dsn", "mdn", "xdm"}
    assert isinstance(expected["has_text"], bool) and isinstance(expected["has_html"], bool)
    for field in ("from", "to", "cc"):
        for address in expected[field]:
            assert set(address) == {"name", "address"}
            # An address with no domain ("foo", "<>") can reach nobody; any other is fictional.
            assert "@" not in address["address"] or address["address"].endswith(FICTIONAL)
    check_attachments(expected["attachments"])
    assert all(isinstance(s, str) and s for s in expected["text_contains"])
    assert all(isinstance(s, str) and s for s in expected["html_must_not_contain"])


def check_attachments(attachments: list[dict[str, object]]) -> None:
    for attachment in attachments:
        assert set(attachment) - {"contents"} == {"filename", "content_type", "size"}
        name, content_type = str(attachment["filename"]), str(attachment["content_type"])
        assert "/" not in name and "\\" not in name
        assert content_type == content_type.lower()
        assert isinstance(attachment["size"], int) and attachment["size"] > 0
        if "contents" in attachment:
            assert content_type == "message/rfc822" and attachment["contents"]
            check_attachments(attachment["contents"])  # type: ignore[arg-type]
