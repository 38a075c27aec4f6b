"""Folder list and message list; flag, move and delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.errors import BadRequest, Forbidden, NotFound
from webmail.htmx import vary_on_htmx, wants_fragment
from webmail.i18n import N_
from webmail.mail import mailbox, mailboxes
from webmail.mail.connections import MailSession
from webmail.mail.folders import FolderEntry
from webmail.mail.imap import MailboxNotFound
from webmail.rows import RowScope
from webmail.templating import render
from webmail.urls import local_path, mail_url
from webmail.views import triage
from webmail.views.common import (
    authenticated,
    folder_param,
    is_ascii_number,
    services,
    state_change,
    text_field,
    uid_param,
)
from webmail.views.conversation import list_grouping
from webmail.views.search import list_order
from webmail.views.shared_mailboxes import inside, links, selected

NOTICES = {
    "sent": N_("Message envoyé."),
    "draft": N_("Brouillon enregistré."),
    "moved": N_("Message déplacé."),
    "deleted": N_("Message supprimé."),
    "trashed": N_("Message placé dans la corbeille."),
    "archived": N_("Message archivé."),
    "undone": N_("C'est annulé : les messages sont revenus à leur place."),
    "recovery": N_(
        "Connexion avec un code de secours : il ne servira plus. "
        "Vous pouvez en générer de nouveaux depuis la page Compte."
    ),
}


# After a send that did not keep everything it should have: said as a warning, not a success.
WARNINGS = {
    "sent-nocopy": N_("Message envoyé, mais aucune copie n'a pu être gardée dans Envoyés."),
    "sent-nofolder": N_(
        "Le message a été envoyé, mais aucune copie n'a pu être gardée : le dossier Envoyés "
        "n'existe pas et le serveur refuse de le créer."
    ),
    "sent-draft": N_(
        "Message envoyé, mais son brouillon n'a pas pu être supprimé : supprimez-le pour ne "
        "pas l'envoyer une seconde fois."
    ),
    "sent-nocopy-draft": N_(
        "Message envoyé, mais aucune copie n'a pu être gardée dans Envoyés et son brouillon "
        "n'a pas pu être supprimé."
    ),
    "undone-partial": N_(
        "Certains messages n'ont pas été retrouvés pour être remis à leur place : ils sont "
        "restés dans le dossier où ils avaient été placés."
    ),
    "already-sent": N_(
        "Ce message avait déjà été envoyé : il n'a pas été envoyé une seconde fois."
    ),
}


async def home(request: Request) -> Response:
    return RedirectResponse("/mail", status_code=303)


async def folder_list(session: MailSession, page: mailbox.Page | None = None) -> list[FolderEntry]:
    state = page.state if page is not None else None
    return await mailboxes.entries(session, state)  # the folders of the session's mailbox


async def message_list(request: Request) -> Response:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder", "INBOX"))
    page_number = _page(request.query_params.get("page"))
    after = _after(request.query_params.get("after"))
    fragment = wants_fragment(request)
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        folder = await inside(session, folder)
        listed = await list_context(request, session, folder, page_number, after)
        folders = [] if fragment else await folder_list(session, listed["page"])
        boxes = [] if fragment else await links(session)
    context = {
        **listed,
        "folders": folders,
        "mailboxes": boxes,
        "folder_label": _label(folders, folder),
        # "Plus de messages" asked by htmx: only the rows that follow, appended in place.
        "more_only": after is not None and fragment,
        "folder_role": next((e.role for e in folders if e.name == folder), None),
        "notice": NOTICES.get(request.query_params.get("notice", "")),
        "warning": WARNINGS.get(request.query_params.get("notice", "")),
        "undo": await triage.pending_undo(request, auth),
    }
    if fragment:
        return vary_on_htmx(render(request, "partials/_rows.html", context))
    from webmail.views.undo_send import lost_sends_warning  # it builds on the compose views

    context["warning"] = await lost_sends_warning(auth, app) or context["warning"]
    return vary_on_htmx(render(request, "pages/mailbox.html", context))


async def list_context(
    request: Request,
    session: MailSession,
    folder: str,
    page_number: int = 1,
    after: int | None = None,
) -> dict[str, Any]:
    """One page of the folder's list, as the list templates want it: the mailbox page shows
    it alone, the message page beside the message (tablet and desktop)."""
    order = await list_order(request, session.user)
    try:
        page = await mailbox.list_page(
            session.imap,
            session.cache,
            folder,
            page_number,
            services(request).settings.page_size,
            order=order,
            after=after,
        )
    except MailboxNotFound:
        raise NotFound("Ce dossier n'existe pas.") from None
    grouping = await list_grouping(request, session.user, session, page)
    return {
        "conversations": grouping,
        "page": page,
        "folder": folder,
        "order": order,
        "row_scope": RowScope(session.user, folder, page.state.uidvalidity, order),
    }


async def toggle_flag(request: Request) -> Response:
    auth, form = await state_change(request)
    folder = folder_param(text_field(form, "folder"))
    uid = uid_param(text_field(form, "uid"))
    flag = {"flagged": "\\Flagged", "seen": "\\Seen"}.get(text_field(form, "flag"))
    if flag is None:
        raise BadRequest("Marque inconnue.")
    add = text_field(form, "value") == "1"
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        folder = await selected(session, folder)
        if not await _may_flag(session, folder, flag):
            raise Forbidden("Vous ne pouvez pas modifier les marques des messages de cette boîte.")
        await session.imap.store_flags([uid], [flag], add=add)
        mailbox.update_cached_flags(session.cache, folder, uid, {flag}, add)
    return RedirectResponse(local_path(text_field(form, "next"), mail_url(folder)), status_code=303)


async def _may_flag(session: MailSession, folder: str, flag: str) -> bool:
    granted = await mailboxes.rights(session, folder)
    return granted.mark_seen if flag == "\\Seen" else granted.flag


def _page(value: str | None) -> int:
    if value is None or value == "":
        return 1
    if not is_ascii_number(value, 6) or int(value) == 0:
        raise BadRequest("Numéro de page invalide.")
    return int(value)


def _after(value: str | None) -> int | None:
    return None if value is None or value == "" else uid_param(value)


def _label(folders: list[FolderEntry], name: str) -> str:
    for entry in folders:
        if entry.name == name:
            return entry.label
    return "Boîte de réception" if name.upper() == "INBOX" else name
