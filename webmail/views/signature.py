"""The signature of each mailbox the user writes from: one text area per address."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.errors import BadRequest
from webmail.mail.compose import Draft
from webmail.mail.signatures import MAX_CHARS, SignatureStore, signed
from webmail.templating import render
from webmail.views import shared_mailboxes
from webmail.views.common import Authenticated, authenticated, services, state_change, text_field

log = logging.getLogger(__name__)


def store(request: Request) -> SignatureStore:
    return SignatureStore(services(request).sessions.redis)


async def signature_page(request: Request) -> Response:
    auth = await authenticated(request)
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        await shared_mailboxes.offer_senders(request, session, Draft(sender=auth.user))
    senders = getattr(request.state, "senders", [])
    texts = {s.mailbox: await store(request).get(auth.user, s.mailbox) for s in senders}
    return render(
        request,
        "pages/signature.html",
        {
            "senders": senders,
            "texts": texts,
            "max_chars": MAX_CHARS,
            "saved": request.query_params.get("saved") == "1",
            "folder": None,
        },
    )


async def save_signature(request: Request) -> Response:
    auth, form = await state_change(request)
    mailbox = text_field(form, "mailbox", limit=500)
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        await shared_mailboxes.offer_senders(request, session, Draft(sender=auth.user))
    if mailbox not in {s.mailbox for s in getattr(request.state, "senders", [])}:
        raise BadRequest("Vous ne pouvez pas écrire depuis cette adresse.", status=403)
    await store(request).set(auth.user, mailbox, text_field(form, "signature", limit=10_000))
    return RedirectResponse("/account/signature?saved=1", status_code=303)


async def with_signature(request: Request, auth: Authenticated, draft: Draft, mode: str) -> str:
    """The draft's body signed for the mailbox it is written from."""
    try:
        text = await store(request).get(auth.user, draft.mailbox)
    except RedisError:
        log.warning("signatures unavailable: compose form without one")
        return draft.body
    return signed(draft.body, text, above_quote=mode != "new")
