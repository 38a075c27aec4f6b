"""The folders page: create, rename and delete personal folders."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.i18n import N_
from webmail.mail import folder_admin
from webmail.mail.connections import MailSession
from webmail.mail.folder_admin import FolderRefused
from webmail.templating import render
from webmail.views.common import (
    audit,
    authenticated,
    folder_param,
    services,
    state_change,
    text_field,
)
from webmail.views.mailbox import folder_list
from webmail.views.shared_mailboxes import links

# Each refusal with what the user can do about it, and its HTTP status.
REASONS: dict[str, tuple[str, int]] = {
    "empty": (N_("Donnez un nom au dossier."), 400),
    "too_long": (N_("Ce nom est trop long : 80 caractères au plus."), 400),
    "characters": (N_("Un nom de dossier ne peut contenir ni « % » ni « * »."), 400),
    "separator": ("", 400),  # says the server's separator: _message_for
    "reserved": (N_("Ce nom est réservé : choisissez-en un autre."), 400),
    "no_nesting": (N_("Ce serveur ne permet pas les sous-dossiers."), 400),
    "exists": (N_("Un dossier porte déjà ce nom."), 409),
    "missing": (N_("Ce dossier n'existe pas."), 404),
    "inbox": (N_("La boîte de réception ne peut être ni renommée ni supprimée."), 403),
    "special": (
        N_(
            "Les dossiers Envoyés, Brouillons, Corbeille, Archives et Indésirables ne peuvent "
            "être ni renommés ni supprimés : vos autres logiciels de messagerie s'en servent."
        ),
        403,
    ),
    "server": (N_("Le serveur de messagerie a refusé ce changement de dossier."), 409),
}

NOTICES = {
    "created": N_("Dossier créé."),
    "renamed": N_("Dossier renommé."),
    "deleted": N_("Dossier supprimé."),
}


async def folders_page(request: Request) -> Response:
    auth = await authenticated(request)
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        context = await _page_context(session)
    context["notice"] = NOTICES.get(request.query_params.get("notice", ""))
    return render(request, "pages/folders.html", context)


async def create_folder(request: Request) -> Response:
    auth, form = await state_change(request)
    typed = text_field(form, "name", limit=1000)
    parent = text_field(form, "parent", limit=500) or None
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        try:
            name = await folder_admin.create(
                session, typed, folder_param(parent) if parent else None
            )
        except FolderRefused as refused:
            context = await _page_context(session)
            return _refusal(request, "pages/folders.html", context, refused, typed=typed)
    audit(request, "folder_created", auth, folder=name)
    return RedirectResponse("/mail/folders?notice=created", status_code=303)


async def rename_form(request: Request) -> Response:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        try:
            info = await folder_admin.describe(session, folder)
        except FolderRefused as refused:
            return _refusal(request, "pages/folders.html", await _page_context(session), refused)
        context = {**await _page_context(session), "info": info}
    return render(request, "pages/folder_rename.html", context)


async def rename_folder(request: Request) -> Response:
    auth, form = await state_change(request)
    folder = folder_param(text_field(form, "folder"))
    typed = text_field(form, "name", limit=1000)
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        try:
            name = await folder_admin.rename(session, folder, typed)
        except FolderRefused as refused:
            context = await _page_context(session)
            if refused.reason in ("inbox", "special", "missing"):
                return _refusal(request, "pages/folders.html", context, refused)
            context["info"] = await folder_admin.describe(session, folder)
            return _refusal(request, "pages/folder_rename.html", context, refused, typed=typed)
    audit(request, "folder_renamed", auth, folder=folder, to_folder=name)
    return RedirectResponse("/mail/folders?notice=renamed", status_code=303)


async def delete_form(request: Request) -> Response:
    """The question before deleting: how many messages and which subfolders go with it."""
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    return await _ask_delete(request, auth.key, auth.user, auth.password, folder)


async def delete_folder(request: Request) -> Response:
    auth, form = await state_change(request)
    folder = folder_param(text_field(form, "folder"))
    if text_field(form, "confirm") != "yes":
        # Asked on the server too: without script nothing is deleted unasked.
        return await _ask_delete(request, auth.key, auth.user, auth.password, folder)
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        try:
            info = await folder_admin.delete(session, folder)
        except FolderRefused as refused:
            return _refusal(request, "pages/folders.html", await _page_context(session), refused)
    audit(
        request,
        "folder_deleted",
        auth,
        folder=folder,
        messages=info.messages,
        subfolders=len(info.children),
    )
    return RedirectResponse("/mail/folders?notice=deleted", status_code=303)


async def _ask_delete(
    request: Request, key: str, user: str, password: str, folder: str
) -> Response:
    app = services(request)
    async with app.pool.use(key, user, password) as session:
        try:
            info = await folder_admin.describe(session, folder)
        except FolderRefused as refused:
            return _refusal(request, "pages/folders.html", await _page_context(session), refused)
        context = {**await _page_context(session), "info": info}
    return render(request, "pages/folder_delete.html", context)


async def _page_context(session: MailSession) -> dict[str, Any]:
    folders = await folder_list(session)
    where = await folder_admin.place(session)
    return {
        "folders": folders,
        "folder": None,
        "mailboxes": await links(session),
        # Any listed folder may hold a new one, except where the server has no levels.
        "parents": folders if where.delimiter else [],
        "delimiter": where.delimiter,
    }


def _refusal(
    request: Request,
    template: str,
    context: dict[str, Any],
    refused: FolderRefused,
    typed: str = "",
) -> Response:
    status = REASONS.get(refused.reason, REASONS["server"])[1]
    # The typed name comes back in the field: nothing to type again.
    context = {**context, "typed": typed, "error_text": _message_for(refused.reason, context)}
    return render(request, template, context, status_code=status)


def _message_for(reason: str, context: dict[str, Any]) -> str:
    if reason == "separator":
        return i18n._(
            "Le caractère « {sep} » sépare les niveaux de dossiers sur ce serveur : pour "
            "créer un sous-dossier, choisissez son dossier parent."
        ).format(sep=context.get("delimiter") or "")
    return i18n.shown(REASONS.get(reason, REASONS["server"])[0])
