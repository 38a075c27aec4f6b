"""Writing mail: new, reply, reply-all, forward; send, or keep as a draft.

Whatever fails (a bad address, SMTP refusing or unreachable, a file too large), the user gets
the form back with everything typed, and the files kept in the one Drafts copy of the message
(the browser cannot be handed files back). Sending itself lives in ``views/sending.py``; the
form in ``compose_form.py``, its first opening (replies, forwards) in ``compose_prefill.py``,
its files in ``compose_files.py``.
"""

from __future__ import annotations

import logging

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.errors import BadRequest, NotFound
from webmail.mail import compose, drafts, mailboxes
from webmail.mail.compose import Draft, Upload
from webmail.mail.connections import MailSession
from webmail.mail.imap import ImapError, ImapUnavailable
from webmail.mail.special_folders import FolderUnavailable
from webmail.trust.recipients import CONFIRM_FIELD
from webmail.urls import mail_url
from webmail.views import shared_mailboxes
from webmail.views.common import (
    Authenticated,
    compose_body_fits,
    services,
    state_change,
    text_field,
)
from webmail.views.compose_files import (
    KeptFilesMissing,
    kept_from_form,
    kept_uploads,
    read_uploads,
    too_big,
    too_big_outcome,
)
from webmail.views.compose_form import (
    MODES,
    RICH,
    SOURCES,
    Kept,
    Origin,
    Outcome,
    draft_from_form,
    form_page,
    kept_from,
    noted_origin,
    origin_from_form,
    origin_note,
)
from webmail.views.compose_prefill import compose_form

# What the other views use, from here as before the form was split out.
__all__ = [
    "AUTOSAVE",
    "MODES",
    "RICH",
    "SOURCES",
    "Kept",
    "KeptFilesMissing",
    "Origin",
    "Outcome",
    "compose_form",
    "connected",
    "form_page",
    "handle_form",
    "kept_from",
    "noted_origin",
    "origin_note",
    "remove_draft",
    "role_folder",
    "save_draft",
    "send_or_save",
]

log = logging.getLogger(__name__)

AUTOSAVE = "autosave"  # the action of views/autosave.py: save, answer with a status line


async def send_or_save(request: Request) -> Response:
    if not compose_body_fits(request):
        raise BadRequest(
            "Les pièces jointes dépassent la taille autorisée.",
            status=413,
            title="Message trop volumineux",
        )
    auth, form = await state_change(request)
    try:
        action = text_field(form, "action")
        # Autosaving answers a status line, for the script: only through its own endpoint.
        return await handle_form(request, auth, form, "save" if action == AUTOSAVE else action)
    finally:
        await form.close()  # uploaded files are spooled to disk


async def handle_form(
    request: Request, auth: Authenticated, form: FormData, action: str
) -> Response:
    """The compose form, checked as for sending, then sent, saved or autosaved."""
    from webmail.views import autosave, sending, structured  # all render through form_page

    app = services(request)
    origin = origin_from_form(form)
    draft = draft_from_form(form, auth.user)
    draft.answers = origin_note(origin)
    kept = kept_from_form(form, origin)
    # An autosave carries the text only: new files travel with the real submission.
    uploads = [] if action == AUTOSAVE else await read_uploads(form)
    kept.everything = action == AUTOSAVE and kept.source == "draft"
    if too_big(request, uploads):
        kept.unlisted = True  # not read from the server: handed back as they came
        return form_page(request, draft, origin, kept, too_big_outcome(request))
    try:
        async with app.pool.use(auth.key, auth.user, auth.password) as session:
            refused = await shared_mailboxes.apply_sender(
                request, session, draft, text_field(form, "from", limit=500)
            )
            if refused is not None:
                kept.unlisted = True
                outcome = Outcome(status=403, error=refused, files_lost=bool(uploads))
                return form_page(request, draft, origin, kept, outcome)
            try:
                draft.attachments = await kept_uploads(session, origin, draft, kept) + uploads
            except KeptFilesMissing:
                if await sending.already_sent(request, auth, draft):
                    # The draft went with the sending: a form sent again, not files lost.
                    return RedirectResponse(mail_url("INBOX", notice="already-sent"), 303)
                return await _kept_missing(request, session, draft, origin, uploads)
            if action == AUTOSAVE:  # the structured document's files come with the send
                return await autosave.store(request, auth, session, draft)
            if wrong := await structured.attach(request, session, form, draft, origin, kept):
                return wrong  # the structured document's section is filled wrongly
            if too_big(request, draft.attachments):
                return form_page(request, draft, origin, kept, too_big_outcome(request))
            if action == "save":
                if await sending.already_sent(request, auth, draft):
                    # A late save (the idle autosave, a second tab) must not bring back a
                    # draft of a message already sent.
                    return RedirectResponse(mail_url("INBOX", notice="already-sent"), 303)
                return await _save_draft(request, session, draft, origin, kept)
            attempt = sending.Attempt(request, auth, session, draft, origin, kept)
            attempt.trust_confirm = text_field(form, CONFIRM_FIELD, limit=100)
            return await sending.send(attempt, action=action)
    except ImapUnavailable:
        # Raised only before anything was sent: later IMAP steps catch their own failures.
        kept.unlisted = True
        return form_page(
            request,
            draft,
            origin,
            kept,
            Outcome(
                status=503,
                files_lost=bool(uploads),
                error=i18n._(
                    "Le serveur de messagerie est injoignable : rien n'a été envoyé ni enregistré."
                ),
            ),
        )
    except NotFound:
        return form_page(
            request,
            draft,
            origin,
            Kept(),
            Outcome(
                status=404,
                files_lost=True,
                error=i18n._(
                    "Le message d'origine n'existe plus : ses pièces jointes ne peuvent pas être "
                    "transférées."
                ),
            ),
        )


async def _kept_missing(
    request: Request, session: MailSession, draft: Draft, origin: Origin, uploads: list[Upload]
) -> Response:
    draft.attachments = uploads
    kept = await save_draft(session, draft)
    return form_page(
        request,
        draft,
        origin,
        kept or Kept(),
        Outcome(
            status=409,
            files_lost=kept is None and bool(uploads),
            error=i18n._(
                "Des pièces jointes conservées n'ont plus été retrouvées (le brouillon a changé "
                "ou a été supprimé) : rien n'a été envoyé. Vérifiez les pièces jointes et "
                "ajoutez de nouveau celles qui manquent."
            ),
        ),
    )


async def _save_draft(
    request: Request, session: MailSession, draft: Draft, origin: Origin, kept: Kept
) -> Response:
    try:
        await role_folder(session, "drafts")
    except FolderUnavailable:
        status, error = (
            502,
            i18n._(
                "Le brouillon n'a pas pu être enregistré : le dossier Brouillons n'existe pas "
                "et le serveur refuse de le créer."
            ),
        )
    else:
        if await save_draft(session, draft) is not None:
            return RedirectResponse(mail_url("INBOX", notice="draft"), status_code=303)
        status, error = (
            503,
            i18n._(
                "Le brouillon n'a pas pu être enregistré : le serveur de messagerie est "
                "injoignable."
            ),
        )
    outcome = Outcome(status=status, files_lost=bool(draft.attachments), error=error)
    return form_page(request, draft, origin, kept, outcome)


async def save_draft(
    session: MailSession, draft: Draft, flags: tuple[str, ...] = drafts.DRAFT_FLAGS
) -> Kept | None:
    """Keep ``draft`` as the one Drafts copy of its message; the files as now kept there,
    or None when it could not be saved."""
    if not connected(session):
        return None
    try:
        folder = await role_folder(session, "drafts")
        raw = compose.draft_copy(draft).as_bytes()
        await drafts.replace(session.imap, folder, draft.message_id, raw, flags)
        session.cache.forget(folder)
    except (ImapError, ValueError) as error:
        log.warning("could not save a draft: %r", error)
        return None
    # The server keeps the bytes appended: the files are read from them, not fetched back.
    return kept_from(raw, "draft")


async def remove_draft(session: MailSession, message_id: str) -> bool:
    if not connected(session):
        return False
    try:
        folder = await role_folder(session, "drafts")
        await drafts.remove(session.imap, folder, message_id)
        session.cache.forget(folder)
        return True
    except FolderUnavailable:
        return True  # no Drafts folder, and none can be made: no draft to remove either
    except ImapError:
        log.warning("message sent but its draft could not be removed")
        return False


def connected(session: MailSession) -> bool:
    """Whether the connection still works: once it dropped (after a send, say), the steps
    left are skipped and reported rather than each failing in turn."""
    return session.imap.alive


async def role_folder(session: MailSession, role: str) -> str:
    """Drafts or Sent of the mailbox the message is from (the account's own are created
    where the server keeps personal folders; see mail/mailboxes.py)."""
    return await mailboxes.role_folder(session, role)
