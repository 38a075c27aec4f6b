"""Reading one message: headers, text, sanitised HTML in its own frame, attachments."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import Response

from webmail import i18n
from webmail.errors import NotFound
from webmail.htmx import vary_on_htmx, wants_fragment
from webmail.mail import by_parts, mailbox, mailboxes, mime
from webmail.mail.connections import MailSession
from webmail.mail.sanitize import SanitizedHtml, frame_csp, sanitize_html
from webmail.templating import render
from webmail.urls import mail_url
from webmail.views import delivery_status, image_senders
from webmail.views.common import (
    audit,
    authenticated,
    folder_param,
    services,
    uid_param,
)
from webmail.views.mailbox import list_context
from webmail.views.search import MessageNav, message_nav
from webmail.views.shared_mailboxes import inside, links, selected

log = logging.getLogger(__name__)


async def fetch_raw(session: MailSession, folder: str, uid: int) -> bytes:
    await selected(session, folder)
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
    """The whole message and what it shows: for replies, forwards and drafts, which need it."""
    raw = await fetch_raw(session, folder, uid)
    return raw, await _parse(raw)


async def _parse(raw: bytes) -> mime.ParsedMessage:
    if len(raw) > by_parts.OFF_LOOP_BYTES:
        return await asyncio.to_thread(mime.parse_or_plain, raw)
    return mime.parse_or_plain(raw)


@dataclass(frozen=True)
class Opened:
    """A message to show: read by its parts (``raw`` None), or whole where its structure
    defeats the parts path."""

    message: mime.ParsedMessage
    raw: bytes | None


async def open_message(session: MailSession, folder: str, uid: int) -> Opened:
    """The reading view's message: BODYSTRUCTURE and the parts shown, never the attachments."""
    folder = await selected(session, folder)
    message = await by_parts.read(session.imap, session.cache.overviews, uid)
    if message is not None:
        return Opened(message, None)
    raw, message = await fetch_parsed(session, folder, uid)
    return Opened(message, raw)


async def part_of(
    session: MailSession, folder: str, uid: int, part_id: str, raw: bytes | None = None
) -> tuple[mime.Attachment, bytes] | None:
    """One part, described and decoded: fetched alone where the structure allows, else cut
    from the whole message (off the loop)."""
    if raw is None:
        folder = await selected(session, folder)
        located = await by_parts.locate(session.imap, session.cache.overviews, uid, part_id)
        if located is not None:
            return await by_parts.extract(session.imap, uid, *located)
        raw = await fetch_raw(session, folder, uid)
    try:
        return await asyncio.to_thread(mime.extract_part, raw, part_id)
    except Exception as error:  # a part the parser cannot reach is a part that is not there
        log.warning("attachment unreadable: %s", type(error).__name__)
        return None


async def show_message(request: Request) -> Response:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    app = services(request)
    from webmail.views import receipts  # receipts send through compose, built on this module
    from webmail.views.documents import structured_blocks  # documents builds on this module

    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        folder = await inside(session, folder)
        opened = await open_message(session, folder, uid)
        message = opened.message
        granted = await mailboxes.rights(session, folder)
        if granted.mark_seen:  # a read-only share opens read-only: nothing to mark
            await session.imap.store_flags([uid], ["\\Seen"], add=True)
        audit(request, "message_read", auth, folder=folder, uid=uid)
        mailbox.update_cached_flags(session.cache, folder, uid, {"\\Seen"}, True)
        structured = await structured_blocks(
            message, lambda part_id: part_of(session, folder, uid, part_id, opened.raw)
        )
        folders = await mailboxes.entries(session)
        roles = {entry.role: entry.name for entry in folders if entry.role}
        receipt = await receipts.offer(request, auth, session, folder, uid, message, roles, granted)
        report = await delivery_status.of_report(session, uid, message)
        boxes = await links(session)
        nav = await message_nav(request, session, folder, uid)
        beside = await _list_beside(request, session, folder, nav)
        statuses = await delivery_status.of_sent(  # selects INBOX: last
            session, auth.key, folder, uid, message, roles.get("sent")
        )
    asked_remote = request.query_params.get("remote") == "1"  # the no-script "Afficher"
    context = {
        **beside,
        "structured": structured,
        "folder": folder,
        "uid": uid,
        "folders": folders,
        "mailboxes": boxes,
        "rights": granted,
        "roles": roles,
        "receipt": receipt,
        "report": report,
        "statuses": report.statuses if report is not None else statuses,
        "frame_url": _frame_url(folder, uid, remote=asked_remote),
        "remote_asked": asked_remote,
        "remote_images": await image_senders.for_page(request, auth, message),
        "frame_remote_url": _frame_url(folder, uid, remote=True),
        "back_url": nav.back_url if nav is not None else mail_url(folder),
        "nav": nav,
        "folder_label": next((e.label for e in folders if e.name == folder), folder),
    }
    try:
        return await _render_message(request, message, context)
    except Exception as error:  # one broken message must not cost the user the others
        log.warning("message view degraded to raw text: %s", type(error).__name__)
        raw = opened.raw or await _whole(request, folder, uid)
        return await _render_message(request, mime.plain_message(raw), context)


async def _list_beside(
    request: Request, session: MailSession, folder: str, nav: MessageNav | None
) -> dict[str, Any]:
    """The folder's list around the message, shown beside it on a tablet or a desktop.

    Only for a page the browser loads whole (a link followed without script, a reload, back
    and forward): otherwise the list is already on screen (the pane) or not wanted (a phone).
    """
    boosted = request.headers.get("hx-boosted") == "true"
    if boosted or wants_fragment(request) or nav is None or not nav.back_url.startswith("/mail?"):
        return {}  # opened from a search: its neighbours are not the folder's list
    page_number = (nav.position - 1) // services(request).settings.page_size + 1
    return await list_context(request, session, folder, page_number)


async def _whole(request: Request, folder: str, uid: int) -> bytes:
    """The whole message, for the raw-text last resort of a message read by parts."""
    auth = await authenticated(request)
    async with services(request).pool.use(auth.key, auth.user, auth.password) as session:
        return await fetch_raw(session, folder, uid)


async def _render_message(
    request: Request, message: mime.ParsedMessage, context: dict[str, Any]
) -> Response:
    blocked = 0
    if message.html:
        blocked = (await _sanitize(message.html, lambda cid: "")).blocked_remote
    subject = mime.display_subject(message.subject) or i18n._("(sans objet)")
    # Asked by the list beside it (tablet, desktop): the reading pane's content alone.
    template = "partials/_reading_pane.html" if wants_fragment(request) else "pages/message.html"
    return vary_on_htmx(
        render(
            request,
            template,
            {**context, "message": message, "subject": subject, "blocked_remote": blocked},
        )
    )


async def message_frame(request: Request) -> Response:
    """The sanitised HTML body, served alone with a policy that lets nothing run or leak."""
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    asked = request.query_params.get("remote") == "1"
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        opened = await open_message(session, folder, uid)
    message = opened.message
    remote = asked or (
        bool(message.html) and await image_senders.frame_allows(request, auth, message)
    )
    # The frame URL shows the body on its own: reading it is reading the message.
    audit(request, "message_read", auth, folder=folder, uid=uid, via="frame")

    def cid_url(content_id: str) -> str | None:
        if content_id not in message.inline_images:
            return None
        return "/mail/inline?" + urlencode(
            {"folder": folder, "uid": uid, "part": message.inline_images[content_id]},
            quote_via=quote,
        )

    printed = message if request.query_params.get("print") == "1" else None  # "Imprimer"
    try:
        body = (await _sanitize(message.html or "", cid_url, allow_remote_images=remote)).html
        if printed is not None and not message.html:
            body = str(escape(message.text or "")).join(('<pre class="text-body">', "</pre>"))
        document = render(
            request,
            "pages/mail_frame.html",
            {"body": body, "printed": printed, "subject": mime.display_subject(message.subject)},
        )
    except Exception as error:  # the frame shows the raw text rather than failing
        log.warning("message frame degraded to raw text: %s", type(error).__name__)
        raw = opened.raw or await _whole(request, folder, uid)
        text = mime.plain_message(raw).text or ""
        body = str(escape(text)).join(('<pre class="text-body">', "</pre>"))
        document = render(request, "pages/mail_frame.html", {"body": body})
    document.headers["content-security-policy"] = frame_csp(allow_remote_images=remote)
    document.headers["x-frame-options"] = "SAMEORIGIN"
    return document


async def _sanitize(
    html: str, cid_url: Callable[[str], str | None], *, allow_remote_images: bool = False
) -> SanitizedHtml:
    """Big HTML is cleaned in a thread: nh3 on a megabyte holds the loop for milliseconds."""
    if len(html) > by_parts.OFF_LOOP_BYTES:
        return await asyncio.to_thread(
            sanitize_html, html, cid_url, allow_remote_images=allow_remote_images
        )
    return sanitize_html(html, cid_url, allow_remote_images=allow_remote_images)


def _frame_url(folder: str, uid: int, *, remote: bool) -> str:
    params: dict[str, str | int] = {"folder": folder, "uid": uid}
    if remote:
        params["remote"] = "1"
    return "/mail/message/frame?" + urlencode(params, quote_via=quote)
