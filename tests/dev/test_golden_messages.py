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
            assert address["address"].endswith(FICTIONAL), address
    for attachment in expected["attachments"]:
        assert set(attachment) == {"filename", "content_type", "size"}
        assert "/" not in attachment["filename"] and "\\" not in attachment["filename"]
        assert attachment["content_type"] == attachment["content_type"].lower()
        assert isinstance(attachment["size"], int) and attachment["size"] > 0
    assert all(isinstance(s, str) and s for s in expected["text_contains"])
    assert all(isinstance(s, str) and s for s in expected["html_must_not_contain"])
