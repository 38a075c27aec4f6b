"""Autosave: the compose form saves itself to Drafts while the user types.

``static/compose.js`` posts the form here (its text and its kept files, never new uploads)
ten seconds after a change and when the page is hidden or left. The form goes through the
same checks as a send or a save (``views/compose.py``) and replaces the message's one Drafts
copy; it never sends. The answer is a short status line for the page's live region.

A save must never bring back the draft of a message already sent, or being sent: the send
ledger (``mail/outbox.py``) is asked before saving, and again after, since a send may have
claimed the message in between (it then removes the draft after our copy was written, or
this request removes it).
"""

from __future__ import annotations

import logging
from datetime import datetime

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from webmail.errors import BadRequest
from webmail.formatting import PARIS
from webmail.mail import drafts
from webmail.mail.compose import Draft
from webmail.mail.connections import MailSession
from webmail.mail.outbox import Record, State
from webmail.templating import render
from webmail.views import compose
from webmail.views.common import Authenticated, is_ascii_number, state_change

log = logging.getLogger(__name__)

# The text fields and the kept files' digests, never files: far below a send's limit.
AUTOSAVE_MAX_BYTES = 9 * 1024 * 1024


async def autosave(request: Request) -> Response:
    declared = request.headers.get("content-length", "")
    if not is_ascii_number(declared, 12) or int(declared) > AUTOSAVE_MAX_BYTES:
        raise BadRequest(
            "Brouillon trop volumineux pour un enregistrement automatique.", status=413
        )
    auth, form = await state_change(request)
    try:
        return await compose.handle_form(request, auth, form, compose.AUTOSAVE)
    finally:
        await form.close()


async def store(
    request: Request, auth: Authenticated, session: MailSession, draft: Draft
) -> Response:
    """Replace the draft, unless the ledger knows this message; the status line."""
    from webmail.views.sending import outbox  # sending builds on views/compose.py

    ledger = outbox(request)
    try:
        if await ledger.state(auth.user, draft.message_id) is not None:
            return _refused(request)
        if await compose.save_draft(session, draft) is None:
            return _status(request, "failed", 503)
        after = await ledger.state(auth.user, draft.message_id)
    except RedisError:
        log.error("send ledger unavailable: draft not autosaved")
        return _status(request, "failed", 503)
    if after is not None:
        await _settle_race(session, draft, after)
        return _refused(request)
    return _status(request, "saved", 200)


async def _settle_race(session: MailSession, draft: Draft, record: Record) -> None:
    """A send claimed the message while this copy was being written."""
    if record.state is State.SENT:
        await compose.remove_draft(session, draft.message_id)
    elif record.state is State.UNKNOWN:
        # Its own copy carried the warning flag: ours may have replaced it.
        await compose.save_draft(session, draft, (*drafts.DRAFT_FLAGS, drafts.OUTCOME_UNKNOWN))
    # Still sending (or scheduled): that send removes or replaces the draft when it ends.


def _refused(request: Request) -> Response:
    return _status(request, "sent", 409)


def _status(request: Request, state: str, status: int) -> Response:
    when = datetime.now(PARIS).strftime("%H:%M")
    response = render(
        request, "partials/_autosave_status.html", {"state": state, "time": when}, status
    )
    response.headers["cache-control"] = "no-store"
    return response
