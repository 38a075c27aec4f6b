"""SASL with an OAuth access token (Pro Santé Connect): XOAUTH2 and OAUTHBEARER (RFC 7628).

A session signed in with Pro Santé Connect has no password: where a password is expected, it
hands an ``AccessToken``, and the IMAP and SMTP logins then authenticate with it instead.
"""

from __future__ import annotations

import base64
import json

from webmail.i18n import N_

# The mechanisms in the order tried: XOAUTH2 is what MSSanté operators document.
TOKEN_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


# What the user is told when IMAP or SMTP refuses a token the session took for valid.
TOKEN_REFUSED = N_(
    "Pro Santé Connect n'a pas confirmé votre accès à la messagerie : reconnectez-vous."
)


class AccessToken(str):
    """An OAuth bearer token standing where a password would: log in with it by SASL."""

    __slots__ = ()


def initial_response(mechanism: str, user: str, token: str) -> str:
    """The base64 initial client response of ``mechanism`` for ``user`` and ``token``."""
    if any(c in user or c in token for c in "\x00\x01\r\n,="):
        # The fields are separated by ^A and, in OAUTHBEARER's GS2 header, by "," and "=".
        raise ValueError("invalid characters in the user name or token")
    if mechanism == "XOAUTH2":
        payload = f"user={user}\x01auth=Bearer {token}\x01\x01"
    elif mechanism == "OAUTHBEARER":
        payload = f"n,a={user},\x01auth=Bearer {token}\x01\x01"
    else:
        raise ValueError(f"not a token mechanism: {mechanism}")
    return base64.b64encode(payload.encode()).decode("ascii")


def error_reply(mechanism: str) -> bytes:
    """What the client answers to the server's error challenge, so that it ends the exchange
    with a refusal: nothing for XOAUTH2, a lone ^A for OAUTHBEARER (RFC 7628 section 3.2.3)."""
    return b"AQ==" if mechanism == "OAUTHBEARER" else b""


def error_status(challenge: bytes) -> str:
    """The "status" of a server's base64 JSON error challenge ("401", "invalid_token"...)."""
    try:
        data = json.loads(base64.b64decode(challenge.strip(), validate=True))
    except ValueError:
        return ""
    return str(data.get("status", "")) if isinstance(data, dict) else ""
