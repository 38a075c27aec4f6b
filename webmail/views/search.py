"""The list's order (a choice kept per account) and search in one folder or all of them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.auth.sessions import redis_errors
from webmail.errors import BadRequest, NotFound
from webmail.htmx import vary_on_htmx, wants_fragment
from webmail.i18n import N_
from webmail.mail import mailbox, mailboxes, search
from webmail.mail.connections import MailSession
from webmail.mail.folders import FolderEntry
from webmail.mail.imap import ImapCommandFailed, MailboxNotFound
from webmail.settings import Settings
from webmail.templating import render
from webmail.urls import local_path, mail_url, message_url, query
from webmail.views.common import (
    authenticated,
    folder_param,
    is_ascii_number,
    services,
    state_change,
    text_field,
    uid_param,
)
from webmail.views.shared_mailboxes import inside, links

log = logging.getLogger(__name__)

# One small hash per account: the list's order survives logout and other instances.
PREFERENCES_PREFIX = "mss:prefs:"


async def list_order(request: Request, user: str) -> str:
    """The account's chosen order; by date when none was chosen or Redis cannot say."""
    try:
        value = await services(request).sessions.redis.hget(PREFERENCES_PREFIX + user, "order")
    except RedisError:
        log.warning("list order unreadable, by date meanwhile")
        return mailbox.BY_DATE
    text = value.decode() if isinstance(value, bytes) else value
    return text if text in mailbox.ORDERS else mailbox.BY_DATE


async def choose_order(request: Request) -> Response:
    """POST /mail/order: by date or by arrival, for every folder of the account."""
    auth, form = await state_change(request)
    order = text_field(form, "order")
    if order not in mailbox.ORDERS:
        raise BadRequest("Ordre de tri inconnu.")
    with redis_errors():  # the same page as any other Redis failure, not a stack trace
        await services(request).sessions.redis.hset(PREFERENCES_PREFIX + auth.user, "order", order)
    return RedirectResponse(local_path(text_field(form, "next")), status_code=303)


# The form's fields, as named in the URL; the flags are checkboxes ("1" when ticked).
TEXT_FIELDS = {
    "q": "text",
    "from": "sender",
    "to": "recipient",
    "subject": "subject",
    "body": "body",
}
DATE_FIELDS = {"since": "since", "until": "until"}
FLAG_FIELDS = {"unread": "unread", "flagged": "flagged", "attachments": "attachments"}
# What the cross-folder search shows of each folder; the folder's own search shows them all.
PER_FOLDER = 5

REFUSED = N_(
    "Le serveur de messagerie n'a pas pu faire cette recherche. Essayez avec d'autres mots."
)


@dataclass(frozen=True)
class Group:
    """One folder's share of a cross-folder search: its first matches and how many in all."""

    folder: str
    label: str
    total: int
    messages: list[mailbox.Summary]


def typed_values(params: QueryParams) -> dict[str, str]:
    """What the user typed, as typed (kept in the form), for every field of the search."""
    names = [*TEXT_FIELDS, *DATE_FIELDS, *FLAG_FIELDS]
    return {name: params.get(name, "") for name in names if params.get(name, "")}


def query_from(typed: dict[str, str]) -> search.Query:
    """The query the form describes, or QueryError (too long, a date that is not one)."""
    values: dict[str, Any] = {}
    for name, attribute in TEXT_FIELDS.items():
        search.check_length(typed.get(name, ""))
        values[attribute] = typed.get(name, "")
    for name, attribute in DATE_FIELDS.items():
        values[attribute] = search.parse_day(typed.get(name, "")[:40])
    for name, attribute in FLAG_FIELDS.items():
        values[attribute] = typed.get(name) == "1"
    return search.Query(**values)


def search_query(typed: dict[str, str]) -> str:
    """The search as URL parameters, carried by result links so next/previous follow it."""
    return query(**typed)


async def search_page(request: Request) -> Response:
    """GET /search: a page, or the results alone for htmx (search as you type)."""
    auth = await authenticated(request)
    params = request.query_params
    typed = typed_values(params)
    folder = folder_param(params.get("folder", "INBOX"))
    everywhere = params.get("scope") == "all"
    number = _number(params.get("page"))
    after = None if not params.get("after") else uid_param(params.get("after"))
    order = await list_order(request, auth.user)
    app = services(request)
    context: dict[str, Any] = {
        "typed": typed,
        "scope": "all" if everywhere else "folder",
        "search_query": search_query(typed),
        "order": order,
    }
    status = 200
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        folder = await inside(session, folder)
        entries = await mailboxes.entries(session)
        try:
            wanted = query_from(typed)
        except search.QueryError as error:
            context["error"], status = str(error), 400
        else:
            if not wanted.empty:
                run = _everywhere if everywhere else _in_folder
                asked = Asked(folder, wanted, order, number, after, entries)
                try:
                    context.update(await run(session, app.settings, asked))
                except MailboxNotFound:
                    raise NotFound("Ce dossier n'existe pas.") from None
                except ImapCommandFailed:
                    context["error"], status = REFUSED, 502
        if not wants_fragment(request):
            context["folders"] = entries
            context["mailboxes"] = await links(session)
    context["folder"] = folder
    context["folder_label"] = _label(entries, folder)
    context["more_only"] = after is not None and wants_fragment(request)
    name = "partials/_search_results.html" if wants_fragment(request) else "pages/search.html"
    return vary_on_htmx(render(request, name, context, status_code=status))


@dataclass(frozen=True)
class Asked:
    """One search as the page asked it, inside the session's mailbox."""

    folder: str
    wanted: search.Query
    order: str
    number: int
    after: int | None
    entries: list[FolderEntry]


async def _in_folder(session: MailSession, settings: Settings, asked: Asked) -> dict[str, Any]:
    imap, cache = session.imap, session.cache
    result, dropped = await search.search_folder(
        imap, cache, asked.folder, asked.wanted, asked.order
    )
    page = await mailbox.page_of(
        imap, cache, asked.folder, result.uids, asked.number, settings.page_size, after=asked.after
    )
    return {"page": page, "dropped": dropped}


async def _everywhere(session: MailSession, settings: Settings, asked: Asked) -> dict[str, Any]:
    names = [entry.name for entry in asked.entries if entry.selectable]
    # The folder on screen first: what the user most likely looks for is there.
    names.sort(key=lambda name: name != asked.folder)
    outcome = await search.search_folders(
        session.imap,
        session.cache,
        names,
        asked.wanted,
        asked.order,
        budget=settings.search.seconds,
    )
    groups = []
    for result in outcome.results:
        first = await mailbox.page_of(
            session.imap, session.cache, result.folder, result.uids, 1, PER_FOLDER
        )
        label = _label(asked.entries, result.folder)
        groups.append(Group(result.folder, label, len(result.uids), first.messages))
    return {"groups": groups, "outcome": outcome, "dropped": outcome.dropped}


def _number(value: str | None) -> int:
    if not value:
        return 1
    if not is_ascii_number(value, 6) or int(value) == 0:
        raise BadRequest("Numéro de page invalide.")
    return int(value)


def _label(entries: list[FolderEntry], name: str) -> str:
    """The folder's name as shown: a special folder's in the user's language."""
    for entry in entries:
        if entry.name == name:
            return i18n._(entry.label) if entry.role else str(entry.label)
    return i18n._("Boîte de réception") if name.upper() == "INBOX" else name


@dataclass(frozen=True)
class MessageNav:
    """Next and previous in the list the message was opened from: the folder in the list's
    order, or the search it was found by."""

    newer: str | None
    older: str | None
    position: int
    total: int
    back_url: str


async def message_nav(
    request: Request, session: MailSession, folder: str, uid: int
) -> MessageNav | None:
    """None when the message is not in that list any more (moved, deleted meanwhile)."""
    typed = typed_values(request.query_params)
    order = await list_order(request, session.user)
    try:
        wanted = query_from(typed)
    except search.QueryError:
        wanted = search.Query()
    if wanted.empty:
        typed = {}
        uids = await mailbox.sorted_folder(session.imap, session.cache, folder, order)
    else:
        try:
            found, _dropped = await search.search_folder(
                session.imap, session.cache, folder, wanted, order
            )
        except ImapCommandFailed:
            return None  # the message still opens, without neighbours
        uids = found.uids
    if uid not in uids:
        return None
    index = uids.index(uid)
    suffix = "&" + query(**typed) if typed else ""
    page = index // services(request).settings.page_size + 1
    page_param = page if page > 1 else None
    if typed:
        back = "/search?" + query(folder=folder, page=page_param) + suffix
    else:
        back = mail_url(folder, page=page_param)
    return MessageNav(
        newer=message_url(folder, uids[index - 1]) + suffix if index > 0 else None,
        older=message_url(folder, uids[index + 1]) + suffix if index + 1 < len(uids) else None,
        position=index + 1,
        total=len(uids),
        back_url=back,
    )
