"""The compose form as it first opens: a new message, or a reply, reply-all or forward
prefilled from the original (quoted, its files offered for a forward), with the signature."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from webmail import i18n
from webmail.errors import BadRequest
from webmail.mail import compose, mime
from webmail.mail.compose import Draft
from webmail.mail.imap import ImapUnavailable
from webmail.views import shared_mailboxes, signature
from webmail.views.common import audit, authenticated, folder_param, services, uid_param
from webmail.views.compose_form import MODES, Kept, Origin, form_page, kept_from
from webmail.views.message import fetch_parsed


async def compose_form(request: Request) -> Response:
    auth = await authenticated(request)
    mode = request.query_params.get("mode", "new")
    if mode not in MODES:
        raise BadRequest("Mode de rédaction inconnu.")
    draft = Draft(sender=auth.user, to=request.query_params.get("to", "")[:500])
    origin = Origin(mode=mode)
    kept = Kept()
    app = services(request)
    if mode != "new":
        origin.folder = folder_param(request.query_params.get("folder"))
        origin.uid = uid_param(request.query_params.get("uid"))
    try:
        async with app.pool.use(auth.key, auth.user, auth.password) as session:
            await shared_mailboxes.offer_senders(request, session, draft)
            if origin.uid is not None:
                raw, original = await fetch_parsed(session, origin.folder, origin.uid)
    except ImapUnavailable:
        if mode != "new":
            raise
        # A new message's form still opens: the sender is checked again when it is sent.
    if mode != "new":
        # The form quotes the original: opening it is reading the message.
        audit(request, "message_read", auth, folder=origin.folder, uid=origin.uid, via=mode)
        draft = _draft_from(original, draft, mode)
        if mode == "forward":
            kept = kept_from(raw, "origin")
    draft.message_id = compose.new_message_id(auth.user)
    draft.body = await signature.with_signature(request, auth, draft, mode)
    return form_page(request, draft, origin, kept)


def _draft_from(original: mime.ParsedMessage, writer: Draft, mode: str) -> Draft:
    """The reply or forward, from the address ``writer`` is from."""
    sender = original.from_[0].display if original.from_ else ""
    when = original.date.strftime("%d/%m/%Y %H:%M") if original.date else ""
    if mode == "forward":
        intro = i18n._("-------- Message transféré --------") + f"\n{sender} — {when}"
        draft = compose.forward_draft(original, writer.author, intro)
    else:
        intro = i18n._("Le {date}, {sender} a écrit :").format(date=when, sender=sender)
        draft = compose.reply_draft(
            original, writer.author, reply_all=mode == "replyall", intro=intro
        )
    return draft.written_as(writer)
