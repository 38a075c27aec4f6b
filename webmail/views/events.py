"""``/mail/events``: the Server-Sent Events stream that tells an open page of new mail.

Events carry no mail content, only counts: the page then asks for its new rows with an
ordinary authenticated request. ``mail``: new mail in the folder shown; ``unread``: its
unread count changed; ``reload``: the session ended, the page reloads (and lands on the
login). A comment every few seconds keeps proxies from closing a quiet stream and lets the
stream notice a session that expired meanwhile.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from webmail.errors import WebmailError
from webmail.mail.watch import ENDED, Change, Watchers
from webmail.views.common import LoginRequired, authenticated, folder_param, services
from webmail.views.session_end import forget_locally
from webmail.views.shared_mailboxes import inside

STREAM_HEADERS = {
    "Cache-Control": "no-store",
    # nginx buffers proxied answers unless told not to: events would wait in its buffer.
    "X-Accel-Buffering": "no",
}
# How long the browser waits before reconnecting after the stream dropped.
RETRY_MILLISECONDS = 5000


def watchers(request: Request) -> Watchers:
    found = request.app.state.watchers
    assert isinstance(found, Watchers)
    return found


async def events(request: Request) -> Response:
    auth = await authenticated(request)
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        folder = await inside(session, folder_param(request.query_params.get("folder", "INBOX")))
    stream = _stream(request, auth.key, auth.user, auth.password, folder)
    return StreamingResponse(stream, media_type="text/event-stream", headers=STREAM_HEADERS)


async def _stream(
    request: Request, key: str, user: str, password: str, folder: str
) -> AsyncIterator[str]:
    heartbeat = services(request).settings.live.heartbeat_seconds
    async with watchers(request).listen(key, user, password, folder) as queue:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        while True:
            try:
                change = await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                if not await _still_signed_in(request, key):
                    yield event("reload")
                    return
                yield ": heartbeat\n\n"
                continue
            if change is ENDED:
                yield event("reload")
                return
            yield event("mail" if change.new else "unread", change)


async def _still_signed_in(request: Request, key: str) -> bool:
    """Whether the session still holds, read without resetting its idle clock (an open page
    listening is not the user's activity: the session must still lock when idle). The
    watcher gets the session's freshest access token, for when it has to log in again."""
    try:
        auth = await authenticated(request, activity=False)
    except LoginRequired:
        # Ended without this process being told (mail/broadcast.py): close here.
        await forget_locally(services(request), key)
        return False
    except WebmailError:  # Pro Santé Connect unreachable for now: the page waits
        return True
    if auth.key != key:
        return False
    watchers(request).renew(key, auth.user, auth.password)
    return True


def event(name: str, change: Change | None = None) -> str:
    data = {"unseen": change.unseen} if change is not None else {}
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"
