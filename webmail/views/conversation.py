"""Conversations: one thread on a page, and the list shown by conversation or by message.

Whether the list groups messages by conversation is each user's choice, kept server-side in
Redis (so that it follows the user from the phone to the desk), keyed by a hash of the
account.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.errors import BadRequest, NotFound
from webmail.mail import mailbox, mailboxes, mime, threads
from webmail.mail.connections import MailSession
from webmail.mail.imap import MailboxNotFound
from webmail.templating import render
from webmail.urls import local_path, mail_url, query
from webmail.views.common import (
    audit,
    authenticated,
    folder_param,
    services,
    state_change,
    text_field,
    uid_param,
)
from webmail.views.shared_mailboxes import inside, links

PREFERENCE_PREFIX = "mss:pref:conversations:"
# The newest messages of a long conversation shown on its page; older ones are a link away.
MAX_SHOWN = 30


@dataclass(frozen=True)
class ShownMessage:
    uid: int
    message: mime.ParsedMessage
    blocks: list[threads.TextBlock]
    seen: bool
    open: bool


@dataclass
class ListGrouping:
    """The message list by conversation: which rows stand for a conversation, how many
    messages each holds, and which rows its newest one hides."""

    counts: dict[int, int] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)

    def url(self, folder: str, uid: int) -> str:
        return conversation_url(folder, uid)


def conversation_url(folder: str, uid: int) -> str:
    return "/mail/conversation?" + query(folder=folder, uid=uid)


async def show_conversation(request: Request) -> Response:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        folder = await inside(session, folder)
        try:
            uids = threads.conversation_of(await threads.conversations(session.imap, folder), uid)
        except MailboxNotFound:
            raise NotFound("Ce dossier n'existe pas.") from None
        shown = await _messages(session, folder, uids[-MAX_SHOWN:])
        if not shown:
            raise NotFound("Ce message n'existe plus : il a peut-être été déplacé ou supprimé.")
        opened = next(message for message in shown if message.open)
        await _mark_read(session, folder, opened)
        audit(request, "message_read", auth, folder=folder, uid=opened.uid)
        folders = await mailboxes.entries(session)
        boxes = await links(session)
    context = {
        "folder": folder,
        "messages": shown,
        "older": len(uids) - len(shown),
        "subject": mime.display_subject(shown[0].message.subject),
        "folders": folders,
        "mailboxes": boxes,
        "back_url": mail_url(folder),
        "folder_label": next((e.label for e in folders if e.name == folder), folder),
    }
    return render(request, "pages/conversation.html", context)


async def _messages(session: MailSession, folder: str, uids: list[int]) -> list[ShownMessage]:
    """The conversation's messages, oldest first; the last unread one open, else the last."""
    items = {item.uid: item for item in await session.imap.fetch(uids, "(UID FLAGS BODY.PEEK[])")}
    found = []
    for uid in uids:
        item = items.get(uid)
        raw = item.data.get("BODY[]") if item is not None else None
        if item is None or not isinstance(raw, bytes):
            continue  # gone since the threading
        flags = item.data.get("FLAGS")
        seen = isinstance(flags, list) and any(
            isinstance(flag, bytes) and flag.lower() == b"\\seen" for flag in flags
        )
        parsed = mime.parse_or_plain(raw)
        found.append((uid, parsed, seen))
    unread = [uid for uid, _parsed, seen in found if not seen]
    opened = unread[-1] if unread else (found[-1][0] if found else None)
    return [
        ShownMessage(
            uid=uid,
            message=parsed,
            blocks=threads.quoted_blocks(parsed.text or ""),
            seen=seen,
            open=uid == opened,
        )
        for uid, parsed, seen in found
    ]


async def _mark_read(session: MailSession, folder: str, opened: ShownMessage) -> None:
    """The message shown open is read, as when opened alone (not in a read-only share)."""
    if opened.seen or not (await mailboxes.rights(session, folder)).mark_seen:
        return
    await session.imap.store_flags([opened.uid], ["\\Seen"], add=True)
    mailbox.update_cached_flags(session.cache, folder, opened.uid, {"\\Seen"}, True)


# -- the list by conversation ---------------------------------------------------------------


def _preference_key(user: str) -> str:
    return PREFERENCE_PREFIX + hashlib.sha256(user.lower().encode()).hexdigest()[:32]


async def by_conversation(request: Request, user: str) -> bool:
    value = await services(request).sessions.redis.get(_preference_key(user))
    return value in (b"1", "1")


async def choose_mode(request: Request) -> Response:
    auth, form = await state_change(request)
    mode = text_field(form, "mode")
    if mode not in ("conversations", "messages"):
        raise BadRequest("Affichage inconnu.")
    redis = services(request).sessions.redis
    await redis.set(_preference_key(auth.user), "1" if mode == "conversations" else "0")
    return RedirectResponse(local_path(text_field(form, "next")), status_code=303)


async def list_grouping(
    request: Request, user: str, session: MailSession, page: mailbox.Page
) -> ListGrouping | None:
    """How the page's rows group by conversation; None when the user lists messages."""
    if not await by_conversation(request, user):
        return None
    grouping = ListGrouping()
    conversations = await threads.conversations(session.imap, page.folder)
    thread_of = {uid: index for index, uids in enumerate(conversations) for uid in uids}
    shown: set[int] = set()
    for summary in page.messages:  # newest first: the first of a conversation stands for it
        index = thread_of.get(summary.uid)
        if index is None:
            continue
        if index in shown:
            grouping.hidden.add(summary.uid)
        else:
            shown.add(index)
            grouping.counts[summary.uid] = len(conversations[index])
    return grouping
