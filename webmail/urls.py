"""Links built in one place: folder names can hold any character, so always encode them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode


def query(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote)


def mail_url(folder: str, **params: Any) -> str:
    return "/mail?" + query(folder=folder, **params)


def message_url(folder: str, uid: int) -> str:
    return "/mail/message?" + query(folder=folder, uid=uid)


def local_path(value: str | None, default: str = "/mail") -> str:
    """Only same-site paths for post-action redirects (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value
