"""Reading one message: headers, text, sanitised HTML in its own frame, attachments."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import Response

from webmail import i18n
from webmail.errors import NotFound
from webmail.mail import mailbox, mailboxes, mime
from webmail.mail.connections import MailSession
from webmail.mail.imap import MailboxNotFound
from webmail.mail.sanitize import frame_csp, sanitize_html
from webmail.templating import render
from webmail.urls import mail_url
from webmail.views.common import audit, authenticated, folder_param, services, uid_param
from webmail.views.search import message_nav
from webmail.views.shared_mailboxes import inside, links

log = logging.getLogger(__name__)

# Types a browser may render inline from our origin: images only, never HTML or SVG.
_INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


async def fetch_raw(session: MailSession, folder: str, uid: int) -> bytes:
    folder = await inside(session, folder)  # never a folder of another mailbox
    try:
        await session.imap.ensure_selected(folder)
    except MailboxNotFound:
        raise NotFound("Ce dossier n'existe pas.") from None
    raw = await session.imap.fetch_message(uid)
    if raw is None:
        # Mail that arrived since the folder was selected is outside the server's view of it
        # until a NOOP: one more try before saying the message is gone.
        await session.imap.noop()
        raw = await session.imap.fetch_message(uid)
    if raw is None:
        raise NotFound("Ce message n'existe pas ou a été supprimé.")
    return raw


async def fetch_parsed(
    session: MailSession, folder: str, uid: int
) -> tuple[bytes, mime.ParsedMessage]:
    raw = await fetch_raw(session, folder, uid)
    return raw, mime.parse_or_plain(raw)


async def show_message(request: Request) -> Response:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        folder = await inside(session, folder)
        raw, message = await fetch_parsed(session, folder, uid)
        granted = await mailboxes.rights(session, folder)
        if granted.mark_seen:  # a read-only share opens read-only: nothing to mark
            await session.imap.store_flags([uid], ["\\Seen"], add=True)
        audit(request, "message_read", auth, folder=folder, uid=uid)
        mailbox.update_cached_flags(session.cache, folder, uid, {"\\Seen"}, True)
        folders = await mailboxes.entries(session)
        boxes = await links(session)
        nav = await message_nav(request, session, folder, uid)
    from webmail.views.documents import structured_blocks  # documents builds on this module

    context = {
        "structured": await structured_blocks(raw, message),
        "folder": folder,
        "uid": uid,
        "folders": folders,
        "mailboxes": boxes,
        "rights": granted,
        "roles": {entry.role: entry.name for entry in folders if entry.role},
        "frame_url": _frame_url(folder, uid, remote=False),
        "frame_remote_url": _frame_url(folder, uid, remote=True),
        "back_url": nav.back_url if nav is not None else mail_url(folder),
        "nav": nav,
        "folder_label": next((e.label for e in folders if e.name == folder), folder),
    }
    try:
        return _render_message(request, message, context)
    except Exception as error:  # one broken message must not cost the user the others
        log.warning("message view degraded to raw text: %s", type(error).__name__)
        return _render_message(request, mime.plain_message(raw), context)


def _render_message(
    request: Request, message: mime.ParsedMessage, context: dict[str, Any]
) -> Response:
    blocked = 0
    if message.html:
        blocked = sanitize_html(message.html, lambda cid: "").blocked_remote
    subject = mime.display_subject(message.subject) or i18n._("(sans objet)")
    return render(
        request,
        "pages/message.html",
        {**context, "message": message, "subject": subject, "blocked_remote": blocked},
    )


async def message_frame(request: Request) -> Response:
    """The sanitised HTML body, served alone with a policy that lets nothing run or leak."""
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    remote = request.query_params.get("remote") == "1"
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        raw, message = await fetch_parsed(session, folder, uid)
    # The frame URL shows the body on its own: reading it is reading the message.
    audit(request, "message_read", auth, folder=folder, uid=uid, via="frame")

    def cid_url(content_id: str) -> str | None:
        if content_id not in message.inline_images:
            return None
        return "/mail/inline?" + urlencode(
            {"folder": folder, "uid": uid, "part": message.inline_images[content_id]},
            quote_via=quote,
        )

    try:
        body = sanitize_html(message.html or "", cid_url, allow_remote_images=remote).html
        document = render(request, "pages/mail_frame.html", {"body": body})
    except Exception as error:  # the frame shows the raw text rather than failing
        log.warning("message frame degraded to raw text: %s", type(error).__name__)
        text = mime.plain_message(raw).text or ""
        body = str(escape(text)).join(('<pre class="text-body">', "</pre>"))
        document = render(request, "pages/mail_frame.html", {"body": body})
    document.headers["content-security-policy"] = frame_csp(allow_remote_images=remote)
    document.headers["x-frame-options"] = "SAMEORIGIN"
    return document


async def download_attachment(request: Request) -> Response:
    return await _part_response(request, inline=False)


async def inline_image(request: Request) -> Response:
    return await _part_response(request, inline=True)


async def _part_response(request: Request, *, inline: bool) -> Response:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    part_id = request.query_params.get("part", "")
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        raw = await fetch_raw(session, folder, uid)
    try:
        found = mime.extract_part(raw, part_id)
    except Exception as error:  # a part the parser cannot reach is a part that is not there
        log.warning("attachment unreadable: %s", type(error).__name__)
        found = None
    if found is None:
        raise NotFound("Cette pièce jointe n'existe pas.")
    described, content = found
    if inline and described.content_type not in _INLINE_IMAGE_TYPES:
        raise NotFound("Cette image n'existe pas.")
    if not inline:
        audit(request, "attachment_download", auth, folder=folder, uid=uid, part=part_id)
    disposition = "inline" if inline else "attachment"
    return Response(
        content,
        media_type=described.content_type if inline else _download_type(described.content_type),
        headers={
            "content-disposition": f'{disposition}; filename="{_ascii_name(described.filename)}"; '
            f"filename*=UTF-8''{quote(described.filename, safe='')}",
            "x-content-type-options": "nosniff",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )


def _download_type(content_type: str) -> str:
    # Never hand the browser a type it would render in our origin.
    if content_type in (
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
    ) or content_type.startswith("multipart/"):
        return "application/octet-stream"
    return content_type


def _ascii_name(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return ascii_name.replace('"', "_").replace("\\", "_")


def _frame_url(folder: str, uid: int, *, remote: bool) -> str:
    params: dict[str, str | int] = {"folder": folder, "uid": uid}
    if remote:
        params["remote"] = "1"
    return "/mail/message/frame?" + urlencode(params, quote_via=quote)
