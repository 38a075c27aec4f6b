"""Cross-site request forgery: same-origin checks plus a per-session token.

Browsers that send ``Sec-Fetch-Site`` or ``Origin`` are checked on that; every state change
also carries the session's token (a form field, or the ``X-CSRF-Token`` header that htmx
sends), for browsers that send neither.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

TOKEN_FIELD = "csrf_token"  # noqa: S105 - a form field name, not a secret
TOKEN_HEADER = "x-csrf-token"  # noqa: S105


def same_origin(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def proven_same_origin(request: Request) -> bool:
    """Same origin, and said so by the browser: ``same_origin`` also accepts a request that
    carries neither header, which only the token can then vouch for."""
    has_header = "sec-fetch-site" in request.headers or "origin" in request.headers
    return has_header and same_origin(request)


async def submitted_token(request: Request) -> str:
    header = request.headers.get(TOKEN_HEADER)
    if header:
        return header
    form = await request.form()
    value = form.get(TOKEN_FIELD)
    return value if isinstance(value, str) else ""


def tokens_match(submitted: str, expected: str) -> bool:
    return bool(submitted) and hmac.compare_digest(submitted.encode(), expected.encode())
