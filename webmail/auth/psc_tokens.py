"""A Pro Santé Connect session's tokens: kept sealed in the session, refreshed before use.

The access token lives minutes (PSC: 2), the refresh token longer (PSC: 30 min). Each request
of a PSC session first makes sure its access token still has REFRESH_MARGIN_SECONDS to live,
so any IMAP or SMTP connection it opens logs in with a valid one; when the provider refuses
the refresh, the session is over (PscRefused).

PSC rotates refresh tokens: one used twice is taken for a replay and ends the grant. So a
session refreshes one request at a time, whatever the process: the request that takes a
short Redis lock refreshes; the others wait and read the tokens it sealed in the session.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import asdict

from webmail.auth.oidc import PscClient, PscRefused, PscUnavailable, Tokens
from webmail.auth.sessions import Session, SessionCookie, SessionStore, redis_errors

# Enough for a login at IMAP and SMTP after the check, even on a slow network.
REFRESH_MARGIN_SECONDS = 30
LOCK_PREFIX = "mss:psc:refresh:"
# The lock outlives one refresh (the provider's timeout, plus this), so that nobody else
# refreshes while it runs; waiters give up after as long (PscUnavailable).
LOCK_SLACK_SECONDS = 5.0
POLL_SECONDS = 0.05
# Compare-and-delete: a holder whose lock expired never removes the next holder's.
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


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
    PscUnavailable when the provider cannot be reached (or another request's refresh does
    not finish in time)."""
    tokens = _readable(store, session, cookie)
    if tokens.expires_at - time.time() > REFRESH_MARGIN_SECONDS:
        return tokens
    if not tokens.refresh_token:
        raise PscRefused("no_refresh_token")
    return await _refresh_once(client, store, session, cookie, tokens)


async def _refresh_once(
    client: PscClient, store: SessionStore, session: Session, cookie: SessionCookie, stale: Tokens
) -> Tokens:
    """Refresh ``stale`` under the session's lock, or take the tokens another request got."""
    lock_seconds = client.config.timeout + LOCK_SLACK_SECONDS
    key, owner = LOCK_PREFIX + session.id_hash, secrets.token_urlsafe(16)
    deadline = time.monotonic() + lock_seconds
    while True:
        with redis_errors():
            acquired = await store.redis.set(key, owner, nx=True, px=int(lock_seconds * 1000))
        if acquired:
            try:
                # Checked under the lock: another request may have refreshed and let go
                # since this one read the session.
                renewed = await _renewed_elsewhere(store, session, cookie, stale)
                return renewed or await _refresh(client, store, session, cookie, stale)
            finally:
                with redis_errors():
                    await store.redis.eval(_RELEASE, 1, key, owner)
        await asyncio.sleep(POLL_SECONDS)
        renewed = await _renewed_elsewhere(store, session, cookie, stale)
        if renewed is not None:
            return renewed
        if time.monotonic() > deadline:
            raise PscUnavailable("another request's token refresh did not finish")


async def _renewed_elsewhere(
    store: SessionStore, session: Session, cookie: SessionCookie, stale: Tokens
) -> Tokens | None:
    """The session's tokens as now stored, if another request replaced ``stale``; they are
    then this request's too, so that nothing it saves later puts the old ones back."""
    latest = await store.load(cookie)
    if latest is None:
        # Ended meanwhile: logout, or another request's refresh was refused.
        raise PscRefused("session_ended")
    if latest.encrypted_tokens == session.encrypted_tokens:
        return None
    tokens = _readable(store, latest, cookie)
    if tokens.access_token == stale.access_token:
        return None
    session.encrypted_tokens = latest.encrypted_tokens
    return tokens


async def _refresh(
    client: PscClient, store: SessionStore, session: Session, cookie: SessionCookie, stale: Tokens
) -> Tokens:
    renewed = await client.refresh(stale.refresh_token, stale.id_token)  # keeps ours if none
    seal(store, session, cookie, renewed)
    await store.save(session, must_exist=True)
    return renewed


def _readable(store: SessionStore, session: Session, cookie: SessionCookie) -> Tokens:
    tokens = unseal(store, session, cookie)
    if tokens is None:
        raise PscRefused("tokens_unreadable")
    return tokens
