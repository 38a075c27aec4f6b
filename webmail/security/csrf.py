"""Cross-site request forgery: same-origin checks plus a per-session token.

Browsers that send ``Sec-Fetch-Site`` or ``Origin`` are checked on that; every state change
also carries the session's token (a form field, or the ``X-CSRF-Token`` header that htmx
sends), for browsers that send neither.

Pages are compressed, and they show the token beside text an attacker can mail in: were it
the same bytes in every page, the compressed size would tell, guess after guess, how much of
it an attacker's text matched (BREACH). So a page never shows the token itself but
``mask || token XOR mask`` with a fresh random mask (base64url): the bytes differ in every
answer, and only unmasking gives the token back.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
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


def masked(token: str) -> str:
    """The token as a page shows it: different in every answer, the same token inside."""
    if not token:
        return ""
    secret = token.encode()
    mask = secrets.token_bytes(len(secret))
    return base64.urlsafe_b64encode(mask + _xor(secret, mask)).decode().rstrip("=")


def _unmasked(submitted: str, length: int) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(submitted + "=" * (-len(submitted) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 2 * length:
        return None
    return _xor(raw[length:], raw[:length])


def _xor(data: bytes, mask: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, mask, strict=True))


def tokens_match(submitted: str, expected: str) -> bool:
    """The submitted token, masked or not, is the expected one.

    The bare token is still accepted: a page rendered before masking existed carries it, and
    whoever knows it could mask it anyway; pages no longer show it, so it cannot be read off
    their compressed size.
    """
    if not submitted or not expected:
        return False
    secret = expected.encode()
    candidate = _unmasked(submitted, len(secret))
    if candidate is None:
        candidate = submitted.encode()
    return hmac.compare_digest(candidate, secret)
