"""Writing mail: new, reply, reply-all, forward; send, or keep as a draft.

Whatever fails (a bad address, SMTP refusing or unreachable, a file too large), the user gets
the form back with everything typed, and the files kept in the one Drafts copy of the message
(the browser cannot be handed files back). Sending itself lives in ``views/sending.py``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.errors import BadRequest, NotFound, WebmailError
from webmail.mail import compose, drafts, mailboxes, mime, rich_text
from webmail.mail.compose import Draft, Upload
from webmail.mail.connections import MailSession
from webmail.mail.drafts import KeptFile
from webmail.mail.imap import ImapError, ImapUnavailable
from webmail.mail.special_folders import FolderUnavailable
from webmail.templating import render
from webmail.trust.recipients import CONFIRM_FIELD
from webmail.urls import mail_url
from webmail.views import shared_mailboxes, signature
from webmail.views.common import (
    Authenticated,
    audit,
    authenticated,
    compose_body_fits,
    folder_param,
    services,
    state_change,
    text_field,
    uid_param,
)
from webmail.views.message import fetch_parsed, fetch_raw

log = logging.getLogger(__name__)

MODES = ("new", "reply", "replyall", "forward")
# Where the files listed on the form (kept from an earlier attempt) are read from.
SOURCES = ("origin", "draft")
AUTOSAVE = "autosave"  # the action of views/autosave.py: save, answer with a status line
RICH = "html"  # the form's format when written with "Mise en forme" (static/compose.js)
_DIGEST = re.compile(r"[0-9a-f]{32}")


@dataclass
class Origin:
    """The message this draft answers or forwards."""

    mode: str = "new"
    folder: str = ""
    uid: int | None = None


@dataclass
class Kept:
    """Files already on the server (the forwarded original, or the draft): listed on the
    form with a checkbox each, attached again from there at each send."""

    source: str = ""
    files: list[KeptFile] = field(default_factory=list)
    chosen: set[str] = field(default_factory=set)
    attached: int = 0  # how many of the message's files came from there
    # True when the form could not be given its files back (the server was unreachable).
    unlisted: bool = False
    # Keep every file of the source, ticked or not (an autosave must not drop a file the
    # user unticked for now: ticked again, it is read from the draft at send time).
    everything: bool = False


@dataclass
class Outcome:
    """What the form says about the last attempt, beyond the error or warning line."""

    error: str | None = None
    warning: str | None = None
    status: int = 200
    server_reply: str = ""  # the server's own answer: data, shown escaped
    refused: list[tuple[str, str, bool]] = field(default_factory=list)  # address, answer, temp
    unknown: bool = False  # offer "Renvoyer quand même"
    files_lost: bool = False  # the new files could not be kept: say to add them again
    trust_confirm: str = ""  # outside the trust space, in warn mode: "Envoyer quand même"


class KeptFilesMissing(Exception):
    """Files the form says to keep are no longer where they were kept."""


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


def kept_from(raw: bytes, source: str) -> Kept:
    files = [described for described, _upload in drafts.kept_files(raw)]
    return Kept(source=source, files=files, chosen={f.digest for f in files})


def form_page(
    request: Request,
    draft: Draft,
    origin: Origin,
    kept: Kept,
    outcome: Outcome | None = None,
) -> Response:
    from webmail.views import (
        recipient_trust,  # it gives back through this module's Outcome
        structured,  # it renders through this module's form_page
    )

    outcome = outcome or Outcome()
    return render(
        request,
        "pages/compose.html",
        {
            "draft": draft,
            "origin": origin,
            "kept": kept,
            "outcome": outcome,
            "error": outcome.error,
            "warning": outcome.warning,
            "max_upload_bytes": services(request).settings.max_upload_bytes,
            "structured": structured.form_state(request),
            "folder": None,
            "recipient_trust": recipient_trust.marks(request, draft, outcome),
            # The addresses the user may write from (views/shared_mailboxes.py).
            "senders": getattr(request.state, "senders", []),
            "copies_note": getattr(request.state, "copies_note", ""),
        },
        status_code=outcome.status,
    )


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
    origin = _origin(form)
    draft = _draft_from_form(form, auth.user)
    draft.answers = origin_note(origin)
    kept = _kept_from_form(form, origin)
    # An autosave carries the text only: new files travel with the real submission.
    uploads = [] if action == AUTOSAVE else await _uploads(form)
    kept.everything = action == AUTOSAVE and kept.source == "draft"
    if _too_big(request, uploads):
        kept.unlisted = True  # not read from the server: handed back as they came
        return form_page(request, draft, origin, kept, _too_big_outcome(request))
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
                draft.attachments = await _kept_uploads(session, origin, draft, kept) + uploads
            except KeptFilesMissing:
                if await sending.already_sent(request, auth, draft):
                    # The draft went with the sending: a form sent again, not files lost.
                    return RedirectResponse(mail_url("INBOX", notice="already-sent"), 303)
                return await _kept_missing(request, session, draft, origin, uploads)
            if action == AUTOSAVE:  # the structured document's files come with the send
                return await autosave.store(request, auth, session, draft)
            if wrong := await structured.attach(request, session, form, draft, origin, kept):
                return wrong  # the structured document's section is filled wrongly
            if _too_big(request, draft.attachments):
                return form_page(request, draft, origin, kept, _too_big_outcome(request))
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


def _draft_from_form(form: FormData, user: str) -> Draft:
    message_id = text_field(form, "message_id", limit=200)
    if not compose.valid_message_id(message_id, user):
        # Missing (a form from before) or not ours: never reuse a value we did not make.
        message_id = compose.new_message_id(user)
    body, html = _body(form)
    return Draft(
        sender=user,
        to=text_field(form, "to", limit=5000),
        cc=text_field(form, "cc", limit=5000),
        bcc=text_field(form, "bcc", limit=5000),
        subject=text_field(form, "subject", limit=1000),
        body=body,
        html=html,
        in_reply_to=text_field(form, "in_reply_to", limit=1000),
        references=text_field(form, "references", limit=10000),
        message_id=message_id,
        read_receipt=text_field(form, "read_receipt") == "yes",
    )


def _body(form: FormData) -> tuple[str, str]:
    """The text and the sanitised HTML ("" in plain text) typed in the form. The HTML is
    cleaned here, before anything else sees it; its text alternative is made from it."""
    text = text_field(form, "body", limit=2_000_000)
    if text_field(form, "format") != RICH:
        return text, ""
    html = rich_text.sanitise(text_field(form, "body_html", limit=2_000_000))
    if not html and text.strip():  # the editor sent nothing: keep the words typed
        html = rich_text.from_text(text)
    return (rich_text.to_text(html), html) if html else (text, "")


def _kept_from_form(form: FormData, origin: Origin) -> Kept:
    source = text_field(form, "kept_source")
    if source not in SOURCES or (source == "origin" and origin.uid is None):
        return Kept()
    chosen = {
        value
        for value in form.getlist("keep")
        if isinstance(value, str) and _DIGEST.fullmatch(value)
    }
    return Kept(source=source, chosen=chosen)


async def _kept_uploads(
    session: MailSession, origin: Origin, draft: Draft, kept: Kept
) -> list[Upload]:
    """The files ticked on the form, read again from where they were kept."""
    if not kept.chosen and not kept.everything:
        return []
    raw = await _kept_source(session, origin, draft, kept.source)
    found = drafts.kept_files(raw) if raw is not None else []
    uploads = {described.digest: upload for described, upload in found}
    if kept.everything:
        kept.chosen = set(uploads)
    if not kept.chosen <= uploads.keys():
        raise KeptFilesMissing
    kept.files = [described for described, _upload in found]
    chosen = [d for d in dict.fromkeys(f.digest for f in kept.files) if d in kept.chosen]
    kept.attached = len(chosen)
    return [uploads[d] for d in chosen]


async def _kept_source(
    session: MailSession, origin: Origin, draft: Draft, source: str
) -> bytes | None:
    if source == "origin" and origin.uid is not None:
        return await fetch_raw(session, origin.folder, origin.uid)
    folder = await role_folder(session, "drafts")
    return await drafts.latest(session.imap, folder, draft.message_id)


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


def _too_big(request: Request, uploads: list[Upload]) -> bool:
    return sum(len(u.data) for u in uploads) > services(request).settings.max_upload_bytes


def _too_big_outcome(request: Request) -> Outcome:
    limit = services(request).settings.max_upload_bytes // (1024 * 1024)
    return Outcome(
        status=413,
        files_lost=True,
        error=i18n._(
            "Les pièces jointes dépassent {limit} Mo : ajoutez-les de nouveau, moins lourdes."
        ).format(limit=limit),
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


async def _uploads(form: FormData) -> list[Upload]:
    uploads = []
    for value in form.getlist("attachments"):
        if isinstance(value, UploadFile) and value.filename:
            data = await value.read()
            uploads.append(
                Upload(value.filename, value.content_type or "application/octet-stream", data)
            )
    return uploads


def origin_note(origin: Origin) -> str:
    """What a Drafts copy records of the message it replies to ("" for none)."""
    if origin.mode not in ("reply", "replyall") or origin.uid is None:
        return ""
    return json.dumps([origin.mode, origin.folder, origin.uid])


def noted_origin(note: str) -> Origin:
    """The original a draft recorded, checked as a form's would be; none if unreadable."""
    try:
        mode, folder, uid = json.loads(note) if note else ("new", "", None)
        if mode not in ("reply", "replyall") or not isinstance(uid, int):
            return Origin()
        return Origin(mode=mode, folder=folder_param(str(folder)), uid=uid_param(str(uid)))
    except (ValueError, TypeError, WebmailError):
        return Origin()


def _origin(form: FormData) -> Origin:
    mode = text_field(form, "mode")
    if mode not in MODES or mode == "new":
        return Origin()
    uid_text = text_field(form, "origin_uid")
    return Origin(
        mode=mode,
        folder=folder_param(text_field(form, "origin_folder")),
        uid=uid_param(uid_text) if uid_text else None,
    )
