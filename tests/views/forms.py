"""Submitting the compose form as a browser does: every field it shows, as it shows it."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

from starlette.testclient import TestClient

from tests.conftest import soup


def browser_form(html: str, **changes: str) -> dict[str, Any]:
    """The compose form's fields: inputs, ticked checkboxes (repeated names become lists)
    and the textarea; ``changes`` overrides some, as the user typing."""
    form = soup(html).select_one("form.compose-form")
    assert form is not None, "no compose form on the page"
    data: dict[str, Any] = {}
    for field in form.find_all(["input", "textarea"]):
        name = field.get("name")
        kind = field.get("type", "text")
        if not name or kind == "file" or (kind == "checkbox" and not field.has_attr("checked")):
            continue
        value = field.get_text() if field.name == "textarea" else str(field.get("value", ""))
        if name in data:
            previous = data[name]
            data[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[name] = value
    data.update(changes)
    return data


def submit(
    client: TestClient,
    html: str,
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    **changes: str,
) -> Any:
    changes.setdefault("action", "send")
    return client.post("/compose", data=browser_form(html, **changes), files=files or None)


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]
