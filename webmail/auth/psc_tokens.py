"""A Pro Santé Connect session's tokens: kept sealed in the session, refreshed before use.

The access token lives minutes (PSC: 2), the refresh token longer (PSC: 30 min). Each request
of a PSC session first makes sure its access token still has REFRESH_MARGIN_SECONDS to live,
so any IMAP or SMTP connection it opens logs in with a valid one; when the provider refuses
the refresh, the session is over (PscRefused).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from webmail.auth.oidc import PscClient, PscRefused, Tokens
from webmail.auth.sessions import Session, SessionCookie, SessionStore

# Enough for a login at IMAP and SMTP after the check, even on a slow network.
REFRESH_MARGIN_SECONDS = 30


def seal(store: SessionStore, session: Session, cookie: SessionCookie, tokens: Tokens) -> None:
    session.encrypted_tokens = store.seal(session, cookie, json.dumps(asdict(tokens)))


def unseal(store: SessionStore, session: Session, cookie: SessionCookie) -> Tokens | None:
    text = store.unseal(session, cookie, session.encrypted_tokens)
    if text is None:
        return None
    try:
        return Tokens(**json.loads(text))
    except (TypeError, ValueError):
        return None


async def fresh(
    client: PscClient, store: SessionStore, session: Session, cookie: SessionCookie
) -> Tokens:
    """The session's tokens, refreshed first when the access token is about to expire.

    Raises PscRefused when they cannot be read or the provider refuses the refresh token,
    PscUnavailable when the provider cannot be reached."""
    tokens = unseal(store, session, cookie)
    if tokens is None:
        raise PscRefused("tokens_unreadable")
    if tokens.expires_at - time.time() > REFRESH_MARGIN_SECONDS:
        return tokens
    if not tokens.refresh_token:
        raise PscRefused("no_refresh_token")
    renewed = await client.refresh(tokens.refresh_token, tokens.id_token)  # keeps ours if none
    seal(store, session, cookie, renewed)
    await store.save(session, must_exist=True)
    return renewed
