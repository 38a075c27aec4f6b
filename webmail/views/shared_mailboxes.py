"""Organisational mailboxes in the pages: the list with unread counts, switching in one tap,
and every folder a request names checked to be inside the mailbox the session is on."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.errors import Forbidden, NotFound
from webmail.mail import mailboxes
from webmail.mail.compose import Draft
from webmail.mail.connections import MailSession
from webmail.mail.imap import MailboxNotFound
from webmail.mail.mailboxes import (
    FolderOutside,
    Mailbox,
    NoMailbox,
    Reach,
    Rights,
    Sender,
    SenderRefused,
)
from webmail.mail.special_folders import FolderUnavailable
from webmail.urls import mail_url
from webmail.views.common import audit, services, state_change, text_field


@dataclass(frozen=True)
class MailboxLink:
    """One mailbox as the list shows it."""

    key: str
    address: str
    name: str
    unseen: int | None
    current: bool
    personal: bool


async def current(session: MailSession) -> tuple[Mailbox, Reach]:
    try:
        return await mailboxes.current(session)
    except NoMailbox:  # an organisational-only account with nothing shared with it
        raise Forbidden(
            "Aucune boîte aux lettres n'est accessible avec ce compte : demandez à "
            "l'administrateur de votre messagerie de vous ouvrir celle de votre service."
        ) from None


async def inside(session: MailSession, folder: str) -> str:
    """``folder`` inside the session's mailbox ("INBOX" is that mailbox's INBOX), else 404:
    the same answer as a folder that does not exist, so a guess learns nothing."""
    await current(session)  # a clear page, not a 404, when no mailbox is reachable at all
    try:
        return await mailboxes.inside(session, folder)
    except FolderOutside:
        raise NotFound("Ce dossier n'existe pas.") from None


async def selected(session: MailSession, folder: str) -> str:
    """The folder selected, within the session's mailbox (never a folder of another one); its
    full name."""
    folder = await inside(session, folder)
    try:
        await session.imap.ensure_selected(folder)
    except MailboxNotFound:
        raise NotFound("Ce dossier n'existe pas.") from None
    return folder


async def rights(session: MailSession, folder: str) -> Rights:
    return await mailboxes.rights(session, folder)


async def require_delete(session: MailSession, folder: str) -> None:
    """Moving or deleting a message needs the right to remove it from ``folder``."""
    if not (await rights(session, folder)).delete:
        raise Forbidden(
            "Vous pouvez lire les messages de cette boîte partagée, mais pas les déplacer "
            "ni les supprimer : demandez ce droit à son responsable."
        )


async def links(session: MailSession) -> list[MailboxLink]:
    """The mailboxes for the page: none for an account that has only its own."""
    box, reached = await current(session)
    if [other.key for other in reached.mailboxes] == [mailboxes.PERSONAL]:
        return []
    return [
        MailboxLink(
            key=other.key,
            address=other.address or other.key,
            name=other.name,
            unseen=other.unseen,
            current=other.key == box.key,
            personal=other.personal,
        )
        for other in reached.mailboxes
    ]


async def switch(request: Request) -> Response:
    """Work in another mailbox: kept in the server-side session, then its INBOX."""
    auth, form = await state_change(request)
    key = text_field(form, "mailbox", limit=500)
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        _box, reached = await current(session)
        chosen = reached.get(key)
        if chosen is None:
            raise NotFound("Cette boîte aux lettres n'existe pas ou ne vous est pas ouverte.")
    auth.session.mailbox = chosen.key
    await app.sessions.save(auth.session, must_exist=True)
    app.pool.choose(auth.key, chosen.key)
    audit(request, "mailbox_switched", auth, mailbox=chosen.address or chosen.key)
    return RedirectResponse(mail_url(chosen.inbox), status_code=303)


# -- writing from an organisational mailbox ------------------------------------------------


async def offer_senders(request: Request, session: MailSession, draft: Draft) -> None:
    """The addresses the form offers (request.state.senders), and the draft from the
    session's mailbox: a reply to a secretariat's message is from the secretariat."""
    _box, reached = await current(session)
    request.state.senders = mailboxes.senders(reached, session.user)
    chosen = await mailboxes.default_sender(session)
    if chosen is not None:
        _write_from(session, draft, chosen)
    request.state.copies_note = await _copies_note(session, draft)


async def apply_sender(
    request: Request, session: MailSession, draft: Draft, key: str
) -> str | None:
    """The From the form asks for, checked on the server: None when accepted (the draft is
    then from it), else what to tell the user. Never taken from the form as it is."""
    await offer_senders(request, session, draft)
    try:
        chosen = await mailboxes.sender(session, key)
    except SenderRefused:
        return i18n._(
            "Vous ne pouvez pas écrire depuis cette adresse : rien n'a été envoyé. "
            "Choisissez une des adresses proposées."
        )
    _write_from(session, draft, chosen)
    return None


async def _copies_note(session: MailSession, draft: Draft) -> str:
    """Where an organisational mailbox's drafts and sent copy go, when not into it."""
    if not draft.from_address:
        return ""
    try:
        folders = [await mailboxes.role_folder(session, role) for role in ("drafts", "sent")]
    except FolderUnavailable:
        return i18n._(
            "Cette boîte n'a pas de dossier Envoyés ou Brouillons qui vous soit ouvert : aucune "
            "copie du message ne pourra y être gardée."
        )
    writing_from = (await mailboxes.reach(session)).get(draft.mailbox)
    if writing_from is not None and all(writing_from.holds(folder) for folder in folders):
        return ""
    return i18n._(
        "Cette boîte n'a pas de dossier Envoyés ou Brouillons qui vous soit ouvert : la copie "
        "envoyée et les brouillons de ce message seront gardés dans votre propre boîte."
    )


def _write_from(session: MailSession, draft: Draft, chosen: Sender) -> None:
    draft.mailbox = chosen.mailbox
    draft.from_address = chosen.address if chosen.agent else ""
    draft.from_name = chosen.name
    session.writing_from = chosen.mailbox
