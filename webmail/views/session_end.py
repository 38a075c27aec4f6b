"""Ending a session, the one way: logout, "end this session", "end the others", and Pro Santé
Connect refusing the session's token all come here.

The session goes from Redis (no process serves it any more), what this process holds for it
closes at once (IMAP connection, live-inbox watcher, whose pages are told), every other process
is told to do the same (mail/broadcast.py), and the audit trail says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webmail.views.common import Services


async def end_sessions(
    app: Services,
    user: str,
    session_ids: Sequence[str],
    action: str,
    *,
    client_ip: str,
    session: str,
    result: str = "ok",
    **target: Any,
) -> None:
    """End ``user``'s ``session_ids``; one audit line ``action`` for them, on behalf of the
    requesting ``session``."""
    for session_id in session_ids:
        await app.sessions.delete_by_hash(session_id, user)
    for session_id in session_ids:
        await app.pool.discard(session_id)
    if app.broadcast is not None:
        await app.broadcast.publish(session_ids)
    app.audit.record(
        action, account=user, client_ip=client_ip, session=session, result=result, **target
    )


async def forget_locally(app: Services, session_id: str) -> None:
    """A session found gone (expired, ended while this process was not listening): close what
    this process still holds for it. Not broadcast: anyone can send a dead cookie."""
    await app.pool.discard(session_id)
