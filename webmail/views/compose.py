"""Writing mail: new, reply, reply-all, forward; send, or keep as a draft.

Whatever fails (a bad address, SMTP refusing or unreachable, a file too large), the user gets
the form back with everything typed, and when the server is the problem, a copy in Drafts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.errors import BadRequest, NotFound
from webmail.mail import compose, mime, smtp, special_folders
from webmail.mail.compose import Draft, InvalidDraft, Upload
from webmail.mail.connections import MailSession
from webmail.mail.imap import ImapError, ImapUnavailable
from webmail.mail.special_folders import FolderUnavailable
from webmail.templating import render
from webmail.urls import mail_url
from webmail.views.common import (
    Authenticated,
    audit,
    authenticated,
    folder_param,
    services,
    state_change,
    text_field,
    uid_param,
)
from webmail.views.message import fetch_parsed

log = logging.getLogger(__name__)

MODES = ("new", "reply", "replyall", "forward")


@dataclass
class Origin:
    """The message this draft answers or forwards."""

    mode: str = "new"
    folder: str = ""
    uid: int | None = None


async def compose_form(request: Request) -> Response:
    auth = await authenticated(request)
    mode = request.query_params.get("mode", "new")
    if mode not in MODES:
        raise BadRequest("Mode de rédaction inconnu.")
    draft = Draft(sender=auth.user, to=request.query_params.get("to", "")[:500])
    origin = Origin(mode=mode)
    if mode != "new":
        origin.folder = folder_param(request.query_params.get("folder"))
        origin.uid = uid_param(request.query_params.get("uid"))
        app = services(request)
        async with app.pool.use(auth.key, auth.user, auth.password) as session:
            _raw, original = await fetch_parsed(session, origin.folder, origin.uid)
        draft = _draft_from(original, auth.user, mode)
    return _form(request, draft, origin)


def _draft_from(original: mime.ParsedMessage, user: str, mode: str) -> Draft:
    sender = original.from_[0].display if original.from_ else ""
    when = original.date.strftime("%d/%m/%Y %H:%M") if original.date else ""
    if mode == "forward":
        intro = i18n._("-------- Message transféré --------") + f"\n{sender} — {when}"
        return compose.forward_draft(original, user, intro)
    intro = i18n._("Le {date}, {sender} a écrit :").format(date=when, sender=sender)
    return compose.reply_draft(original, user, reply_all=mode == "replyall", intro=intro)


def _form(
    request: Request,
    draft: Draft,
    origin: Origin,
    *,
    error: str | None = None,
    warning: str | None = None,
    status: int = 200,
) -> Response:
    limit = services(request).settings.max_upload_bytes
    return render(
        request,
        "pages/compose.html",
        {
            "draft": draft,
            "origin": origin,
            "error": error,
            "warning": warning,
            "max_upload_bytes": limit,
            "folder": None,
        },
        status_code=status,
    )


async def send_or_save(request: Request) -> Response:
    app = services(request)
    if int(request.headers.get("content-length") or 0) > 3 * app.settings.max_upload_bytes + (
        1 << 20
    ):
        raise BadRequest(
            "Les pièces jointes dépassent la taille autorisée.",
            status=413,
            title="Message trop volumineux",
        )
    auth, form = await state_change(request)
    try:
        return await _send_or_save(request, auth, form)
    finally:
        await form.close()  # uploaded files are spooled to disk


async def _send_or_save(request: Request, auth: Authenticated, form: FormData) -> Response:
    app = services(request)
    origin = _origin(form)
    draft = Draft(
        sender=auth.user,
        to=text_field(form, "to", limit=5000),
        cc=text_field(form, "cc", limit=5000),
        bcc=text_field(form, "bcc", limit=5000),
        subject=text_field(form, "subject", limit=1000),
        body=text_field(form, "body", limit=2_000_000),
        in_reply_to=text_field(form, "in_reply_to", limit=1000),
        references=text_field(form, "references", limit=10000),
    )
    draft.attachments = await _uploads(form)
    size = sum(len(upload.data) for upload in draft.attachments)
    if size > app.settings.max_upload_bytes:
        draft.attachments = []
        return _form(
            request,
            draft,
            origin,
            status=413,
            error=i18n._(
                "Les pièces jointes dépassent {limit} Mo : ajoutez-les de nouveau, moins lourdes."
            ).format(limit=app.settings.max_upload_bytes // (1024 * 1024)),
        )
    try:
        async with app.pool.use(auth.key, auth.user, auth.password) as session:
            if origin.mode == "forward" and origin.uid is not None:
                draft.attachments = await _forwarded_parts(session, origin) + draft.attachments
            if text_field(form, "action") == "save":
                return await _save_draft(request, session, draft, origin)
            return await _send(request, auth, session, draft, origin)
    except ImapUnavailable:
        # Raised only before anything was sent: later IMAP steps catch their own failures.
        return _form(
            request,
            _without_files(draft),
            origin,
            status=503,
            error=i18n._(
                "Le serveur de messagerie est injoignable : rien n'a été envoyé ni enregistré."
            ),
        )
    except NotFound:
        return _form(
            request,
            _without_files(draft),
            origin,
            status=404,
            error=i18n._(
                "Le message d'origine n'existe plus : ses pièces jointes ne peuvent pas être "
                "transférées."
            ),
        )


async def _send(
    request: Request, auth: Authenticated, session: MailSession, draft: Draft, origin: Origin
) -> Response:
    app = services(request)
    try:
        recipients = compose.all_recipients(draft)
        message = compose.build_message(draft)
    except InvalidDraft as error:
        return _form(request, _without_files(draft), origin, error=i18n._(str(error)), status=400)
    try:
        result = await smtp.send(
            app.settings.smtp,
            app.pool.ssl_context,
            auth.user,
            auth.password,
            message,
            recipients,
            app.settings.imap_timeout_seconds,
        )
    except smtp.SmtpError as error:
        log.warning("send failed: %s", type(error).__name__)
        audit(
            request,
            "message_sent",
            auth,
            result=type(error).__name__,
            recipients=recipients,
            answer=error.detail[:300],
        )
        saved = await _try_save(session, draft)
        note = i18n._(" Une copie est dans vos brouillons.") if saved else ""
        status = 503 if isinstance(error, smtp.SmtpUnavailable) else 422
        return _form(
            request,
            _without_files(draft),
            origin,
            status=status,
            error=i18n._(error.message)
            + note
            + (f" ({error.detail})" if error.detail and status == 422 else ""),
        )
    audit(
        request,
        "message_sent",
        auth,
        result="partial" if result.refused else "ok",
        recipients=recipients,
        refused=sorted(result.refused),
    )
    notice = await _keep_sent_copy(session, message)
    await _mark_answered(session, origin)
    if result.refused:
        # Offer to resend to the refused addresses only: the others already have it.
        answers = ", ".join(f"{address} ({answer})" for address, answer in result.refused.items())
        retry = Draft(
            sender=draft.sender,
            to=", ".join(result.refused),
            subject=draft.subject,
            body=draft.body,
            in_reply_to=draft.in_reply_to,
            references=draft.references,
        )
        return _form(
            request,
            retry,
            Origin(),
            status=200,
            warning=i18n._(
                "Message envoyé aux autres destinataires, mais refusé pour : {refused}. "
                "Corrigez ces adresses pour le leur renvoyer."
            ).format(refused=answers),
        )
    return RedirectResponse(mail_url("INBOX", notice=notice), status_code=303)


async def _save_draft(
    request: Request, session: MailSession, draft: Draft, origin: Origin
) -> Response:
    try:
        await _role_folder(session, "drafts", "Drafts")
    except FolderUnavailable:
        return _form(
            request,
            _without_files(draft),
            origin,
            status=502,
            error=i18n._(
                "Le brouillon n'a pas pu être enregistré : le dossier Brouillons n'existe pas "
                "et le serveur refuse de le créer."
            ),
        )
    if await _try_save(session, draft):
        return RedirectResponse(mail_url("INBOX", notice="draft"), status_code=303)
    return _form(
        request,
        _without_files(draft),
        origin,
        status=503,
        error=i18n._(
            "Le brouillon n'a pas pu être enregistré : le serveur de messagerie est injoignable."
        ),
    )


async def _try_save(session: MailSession, draft: Draft) -> bool:
    try:
        drafts = await _role_folder(session, "drafts", "Drafts")
        raw = compose.build_message(draft).as_bytes()
        await session.imap.append(drafts, raw, ["\\Draft", "\\Seen"])
        session.cache.forget(drafts)
        return True
    except (ImapError, InvalidDraft, ValueError):
        log.warning("could not save a draft")
        return False


async def _keep_sent_copy(session: MailSession, message: EmailMessage) -> str:
    """The notice to show after sending: "sent", or why no copy is in Sent."""
    try:
        sent = await _role_folder(session, "sent", "Sent")
        await session.imap.append(sent, message.as_bytes(), ["\\Seen"])
        session.cache.forget(sent)
    except FolderUnavailable:
        log.warning("message sent; no Sent folder and the server refuses to create one")
        return "sent_no_folder"
    except ImapError:
        log.warning("message sent but no copy kept in Sent")
        return "sent_no_copy"
    return "sent"


async def _mark_answered(session: MailSession, origin: Origin) -> None:
    if origin.mode not in ("reply", "replyall") or origin.uid is None:
        return
    try:
        await session.imap.ensure_selected(origin.folder)
        await session.imap.store_flags([origin.uid], ["\\Answered"], add=True)
    except ImapError:
        log.info("could not flag the original as answered")


async def _role_folder(session: MailSession, role: str, fallback: str) -> str:
    # The name and place of a created folder are the server's (special_folders), not fallback.
    del fallback
    return await special_folders.role_folder(session.imap, session.cache, role)


async def _forwarded_parts(session: MailSession, origin: Origin) -> list[Upload]:
    assert origin.uid is not None
    raw, original = await fetch_parsed(session, origin.folder, origin.uid)
    uploads = []
    for attachment in original.attachments:
        content = mime.part_content(raw, attachment.part_id)
        if content is not None:
            uploads.append(Upload(attachment.filename, attachment.content_type, content))
    return uploads


async def _uploads(form: FormData) -> list[Upload]:
    uploads = []
    for value in form.getlist("attachments"):
        if isinstance(value, UploadFile) and value.filename:
            data = await value.read()
            uploads.append(
                Upload(value.filename, value.content_type or "application/octet-stream", data)
            )
    return uploads


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


def _without_files(draft: Draft) -> Draft:
    # The browser cannot be handed files back; the form says to attach them again.
    draft.attachments = []
    return draft
