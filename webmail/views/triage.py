"""Actions on one message or a selection: read/unread, flag, archive, move, delete, mark all
read, empty Trash; and Annuler for what moved or changed.

One message is a selection of one: the reading view's forms post the same ``uid`` field the
list's checkboxes do. Each action is one IMAP command over the UID set.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.errors import BadRequest, Forbidden, NotFound, WebmailError
from webmail.i18n import N_
from webmail.mail import mailboxes, undo
from webmail.mail.connections import MailSession
from webmail.mail.imap import MailboxNotFound
from webmail.mail.special_folders import FolderUnavailable
from webmail.mail.undo import Pending, UndoRecord, UndoStore
from webmail.templating import render
from webmail.urls import local_path, mail_url, message_url
from webmail.views.common import (
    Authenticated,
    audit,
    folder_param,
    services,
    state_change,
    text_field,
    uid_param,
)
from webmail.views.shared_mailboxes import inside, require_delete, selected

# What a selection may ask: the flag, and whether it is set or removed.
FLAG_ACTIONS = {
    "read": ("\\Seen", True),
    "unread": ("\\Seen", False),
    "flag": ("\\Flagged", True),
    "unflag": ("\\Flagged", False),
}
MAX_SELECTION = 200

# The undo notice, by what was done; {n} is the number of messages.
UNDO_LABELS = {
    "trashed": (N_("Message supprimé"), N_("{n} messages supprimés")),
    "archived": (N_("Message archivé"), N_("{n} messages archivés")),
    "moved": (N_("Message déplacé"), N_("{n} messages déplacés")),
    "read": (N_("Message marqué comme lu"), N_("{n} messages marqués comme lus")),
    "unread": (N_("Message marqué comme non lu"), N_("{n} messages marqués comme non lus")),
}


class TooLate(WebmailError):
    status = 410
    title = N_("Trop tard pour annuler")


async def selection(request: Request) -> Response:
    """The list's action bar: one form, the checked UIDs, the button pressed."""
    auth, form = await state_change(request)
    action = text_field(form, "action")
    if action in FLAG_ACTIONS:
        return await _flags(request, auth, form, action)
    if action in ("archive", "move"):
        return await _move(request, auth, form, action)
    if action == "delete":
        return await _delete(request, auth, form)
    raise BadRequest("Action inconnue.")


async def move_message(request: Request) -> Response:
    auth, form = await state_change(request)
    return await _move(request, auth, form, "move")


async def archive_message(request: Request) -> Response:
    auth, form = await state_change(request)
    return await _move(request, auth, form, "archive")


async def delete_message(request: Request) -> Response:
    auth, form = await state_change(request)
    return await _delete(request, auth, form)


async def mark_all_read(request: Request) -> Response:
    auth, form = await state_change(request)
    folder = folder_param(text_field(form, "folder"))
    async with _session(request, auth) as session:
        folder = await selected(session, folder)
        await _require_flag(session, folder, "\\Seen")
        unseen = await session.imap.search_uids("UNSEEN")
        await session.imap.store_flags(unseen, ["\\Seen"], add=True)
        session.cache.forget(folder)
        if unseen:
            record = UndoRecord(
                undo.FLAGS, "read", folder, folder, len(unseen), unseen, [], "\\Seen"
            )
            await _keep(request, auth, record)
    audit(request, "folder_marked_read", auth, folder=folder, count=len(unseen))
    return RedirectResponse(mail_url(folder), status_code=303)


async def empty_trash(request: Request) -> Response:
    """Removes every message of Trash for good: asked first, and nothing to undo."""
    auth, form = await state_change(request)
    async with _session(request, auth) as session:
        trash = await _trash(session)
        if trash is None:
            raise NotFound("Ce compte n'a pas de corbeille.")
        await selected(session, trash)
        await require_delete(session, trash)
        uids = await session.imap.search_uids("ALL")
        if text_field(form, "confirm") != "permanent":
            return _ask_purge(request, trash, [], len(uids), empty=True)
        await _purge(session, trash, uids)
    audit(request, "trash_emptied", auth, folder=trash, count=len(uids))
    return RedirectResponse(mail_url(trash, notice="deleted"), status_code=303)


async def undo_action(request: Request) -> Response:
    auth, form = await state_change(request)
    app = services(request)
    store = UndoStore(app.sessions.redis, app.settings.undo.seconds)
    record = await store.take(
        auth.key,
        text_field(form, "token", limit=100),
        lambda sealed: app.sessions.unseal(auth.session, auth.cookie, sealed),
    )
    if record is None:
        raise TooLate(
            "Il est trop tard pour annuler : les messages sont restés là où ils ont été "
            "placés. Vous pouvez les y retrouver et les remettre à la main."
        )
    async with _session(request, auth) as session:
        try:
            restored = await undo.restore(session.imap, record)
        except MailboxNotFound:
            raise NotFound("Ce dossier n'existe pas.") from None
        session.cache.forget(record.source)
        session.cache.forget(record.target)
    audit(request, "undone", auth, folder=record.target, to_folder=record.source, count=restored)
    # Some may no longer be found (another client moved them meanwhile): said, not hidden.
    notice = "undone" if restored >= record.count else "undone-partial"
    return RedirectResponse(mail_url(record.source, notice=notice), status_code=303)


async def pending_undo(request: Request, auth: Authenticated) -> dict[str, Any] | None:
    """The latest action of this session that can still be undone, for the list page."""
    app = services(request)
    store = UndoStore(app.sessions.redis, app.settings.undo.seconds)
    pending = await store.latest(auth.key)
    if pending is None:
        return None
    return {"pending": pending, "labels": UNDO_LABELS.get(pending.label), "seconds": store.seconds}


# -- the actions --------------------------------------------------------------------------


async def _flags(request: Request, auth: Authenticated, form: FormData, action: str) -> Response:
    folder = folder_param(text_field(form, "folder"))
    uids = _uids(form)
    flag, add = FLAG_ACTIONS[action]
    async with _session(request, auth) as session:
        folder = await selected(session, folder)
        await _require_flag(session, folder, flag)
        # Only those that change: Annuler must not unmark what was already read.
        keyword = flag[1:].upper()
        changing = await session.imap.search_uids(
            "UID", _set(uids), f"UN{keyword}" if add else keyword
        )
        await session.imap.store_flags(changing, [flag], add=add)
        session.cache.forget(folder)
        if changing and flag == "\\Seen" and len(uids) > 1:
            record = UndoRecord(
                undo.FLAGS, action, folder, folder, len(changing), changing, [], flag, add
            )
            await _keep(request, auth, record)
    return RedirectResponse(local_path(text_field(form, "next"), mail_url(folder)), status_code=303)


async def _move(request: Request, auth: Authenticated, form: FormData, action: str) -> Response:
    folder = folder_param(text_field(form, "folder"))
    uids = _uids(form)
    async with _session(request, auth) as session:
        folder = await selected(session, folder)
        await require_delete(session, folder)
        if action == "archive":
            target = await _role(session, "archive")
        else:
            target = await inside(session, folder_param(text_field(form, "target")))
        if target == folder:
            raise BadRequest("Le message est déjà dans ce dossier.")
        await _require_insert(session, target)
        await _move_with_undo(request, auth, session, folder, uids, target, action + "d")
    audit(request, "message_moved", auth, folder=folder, uid=_set(uids), to_folder=target)
    return RedirectResponse(mail_url(folder, notice=action + "d"), status_code=303)


async def _delete(request: Request, auth: Authenticated, form: FormData) -> Response:
    """To Trash, created when missing; from Trash, or with no Trash possible, for good, once
    confirmed (asked on the server too: a browser without script must not lose mail)."""
    folder = folder_param(text_field(form, "folder"))
    uids = _uids(form)
    async with _session(request, auth) as session:
        folder = await selected(session, folder)
        await require_delete(session, folder)
        trash = await _trash(session)
        if trash is None or trash == folder:
            if text_field(form, "confirm") != "permanent":
                return _ask_purge(request, folder, uids, len(uids), no_trash=trash is None)
            await _purge(session, folder, uids)
            notice = "deleted"
        else:
            await _move_with_undo(request, auth, session, folder, uids, trash, "trashed")
            notice = "trashed"
    mode = "trash" if notice == "trashed" else "expunge"
    audit(request, "message_deleted", auth, folder=folder, uid=_set(uids), mode=mode)
    return RedirectResponse(mail_url(folder, notice=notice), status_code=303)


async def _move_with_undo(
    request: Request,
    auth: Authenticated,
    session: MailSession,
    folder: str,
    uids: list[int],
    target: str,
    label: str,
) -> None:
    ids = await undo.message_ids(session.imap, uids)
    try:
        moved = await session.imap.move(uids, target)
    except MailboxNotFound:
        raise NotFound("Le dossier de destination n'existe pas.") from None
    session.cache.forget(folder)
    session.cache.forget(target)
    new_uids = [moved[uid] for uid in uids if uid in moved]
    record = UndoRecord(undo.MOVE, label, folder, target, len(uids), new_uids, ids)
    await _keep(request, auth, record)


async def _purge(session: MailSession, folder: str, uids: list[int]) -> None:
    await session.imap.store_flags(uids, ["\\Deleted"], add=True)
    if uids:
        await session.imap.expunge_uids(uids)
    session.cache.forget(folder)


def _ask_purge(
    request: Request,
    folder: str,
    uids: list[int],
    count: int,
    *,
    no_trash: bool = False,
    empty: bool = False,
) -> Response:
    if len(uids) == 1 and not empty:  # the reading view's question, as before
        context = {"folder": folder, "uid": uids[0], "no_trash": no_trash}
        context["back_url"] = message_url(folder, uids[0])
        return render(request, "pages/confirm_delete.html", context)
    context = {"folder": folder, "uids": uids, "count": count, "no_trash": no_trash}
    return render(request, "pages/folder_purge.html", {**context, "empty": empty})


async def _keep(request: Request, auth: Authenticated, record: UndoRecord) -> Pending:
    app = services(request)
    store = UndoStore(app.sessions.redis, app.settings.undo.seconds)
    return await store.keep(
        auth.key, record, lambda text: app.sessions.seal(auth.session, auth.cookie, text)
    )


# -- checks -------------------------------------------------------------------------------


def _uids(form: FormData) -> list[int]:
    values = [value for value in form.getlist("uid") if isinstance(value, str)]
    if not values:
        raise BadRequest("Aucun message choisi : cochez au moins un message.")
    if len(values) > MAX_SELECTION:
        raise BadRequest("Trop de messages choisis à la fois.")
    return sorted({uid_param(value) for value in values})


def _set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _session(request: Request, auth: Authenticated) -> Any:
    return services(request).pool.use(auth.key, auth.user, auth.password)


async def _require_flag(session: MailSession, folder: str, flag: str) -> None:
    granted = await mailboxes.rights(session, folder)
    if not (granted.mark_seen if flag == "\\Seen" else granted.flag):
        raise Forbidden("Vous ne pouvez pas modifier les marques des messages de cette boîte.")


async def _require_insert(session: MailSession, target: str) -> None:
    if not (await mailboxes.rights(session, target)).insert:
        raise Forbidden(
            "Vous ne pouvez pas placer de messages dans ce dossier : demandez ce droit à son "
            "responsable."
        )


async def _role(session: MailSession, role: str) -> str:
    try:
        return await mailboxes.role_folder(session, role, fallback=False)
    except FolderUnavailable:
        raise Forbidden(
            "Ce compte n'a pas de dossier Archives et le serveur refuse d'en créer un."
        ) from None


async def _trash(session: MailSession) -> str | None:
    try:
        # An organisational mailbox's own Trash, never the user's: its messages stay in it.
        return await mailboxes.role_folder(session, "trash", fallback=False)
    except FolderUnavailable:
        return None
