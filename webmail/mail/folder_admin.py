"""Personal folders: create, rename, delete, under the server's own prefix and separator.

Where the server keeps personal folders comes from NAMESPACE (RFC 2342): ``INBOX.`` and ``.``
on some servers, an empty prefix and ``/`` on others; never assumed. A new folder goes under
that prefix, or under a parent the user chose; its name is one level, so the separator cannot
appear inside it (nesting is chosen with the parent). INBOX and the special folders (Sent,
Drafts, Trash, Archive, Junk) are not renamed or deleted here: other mail clients rely on them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable
from dataclasses import dataclass

from webmail.mail import mailbox, mailboxes
from webmail.mail.connections import MailSession
from webmail.mail.imap import Folder, ImapCommandFailed
from webmail.mail.imap_syntax import encode_mailbox

# One level of a name, as typed; the whole encoded name stays well under servers' limits.
MAX_NAME_CHARS = 80
MAX_ENCODED_CHARS = 500


class FolderRefused(Exception):
    """A folder change refused before or by the server; ``reason`` says which (see REASONS
    in the views), ``detail`` carries the server's words when it refused."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Place:
    """Where the session's mailbox keeps its folders."""

    prefix: str  # "" or e.g. "INBOX." / "shared/a@x/": every new top-level name starts so
    delimiter: str | None


@dataclass(frozen=True)
class FolderInfo:
    """A folder about to be renamed or deleted: what the confirmation says."""

    name: str
    leaf: str
    messages: int
    children: tuple[str, ...]


def clean_leaf(typed: str, delimiter: str | None) -> str:
    """The typed name as one level of a folder name, or FolderRefused."""
    leaf = unicodedata.normalize("NFC", typed.strip())
    if not leaf:
        raise FolderRefused("empty")
    if len(leaf) > MAX_NAME_CHARS:
        raise FolderRefused("too_long")
    if any(c in leaf for c in "%*") or any(unicodedata.category(c)[0] == "C" for c in leaf):
        raise FolderRefused("characters")
    if delimiter and delimiter in leaf:
        raise FolderRefused("separator")
    if leaf in (".", "..") or leaf.upper() == "INBOX":
        raise FolderRefused("reserved")
    return leaf


async def place(session: MailSession) -> Place:
    """The prefix and separator of the session's mailbox (its own: NAMESPACE, else guessed
    from LIST as special_folders does; a shared one: its base in the shared namespace)."""
    box, _reached = await mailboxes.current(session)
    if not box.personal:
        return Place(prefix=box.base, delimiter=box.delimiter)
    namespace = await session.imap.personal_namespace()
    if namespace is not None:
        prefix, delimiter = namespace.prefix, namespace.delimiter
        if prefix and delimiter and not prefix.endswith(delimiter):
            prefix += delimiter
        return Place(prefix=prefix, delimiter=delimiter)
    folders = await mailbox.folder_list(session.imap, session.cache)
    delimiter = next((f.delimiter for f in folders if f.name.upper() == "INBOX"), None)
    return Place(prefix="", delimiter=delimiter)


async def create(session: MailSession, typed: str, parent: str | None) -> str:
    """Create a folder named ``typed`` under ``parent`` (a folder of the session's mailbox)
    or at the top of it; returns its full name."""
    where = await place(session)
    leaf = clean_leaf(typed, where.delimiter)
    if parent:
        parent = await _inside(session, parent)
        if not where.delimiter:
            raise FolderRefused("no_nesting")
        name = parent + where.delimiter + leaf
    else:
        name = where.prefix + leaf
    await _refuse_existing(session, name)
    await _run(session, session.imap.create_folder(name), name)
    return name


async def rename(session: MailSession, folder: str, typed: str) -> str:
    """Give ``folder`` a new last level (its place and its subfolders follow); its new name."""
    folder = await _changeable(session, folder)
    where = await place(session)
    leaf = clean_leaf(typed, where.delimiter)
    parent = _parent(folder, where.delimiter)
    name = parent + leaf if parent else where.prefix + leaf
    if name == folder:
        return folder
    await _refuse_existing(session, name)
    await _run(session, session.imap.rename_folder(folder, name), name)
    return name


async def describe(session: MailSession, folder: str) -> FolderInfo:
    """What deleting ``folder`` would remove: its messages and its subfolders."""
    folder = await _changeable(session, folder)
    where = await place(session)
    folders = await _fresh_list(session)
    listed = next((f for f in folders if f.name == folder), None)
    if listed is None:
        raise FolderRefused("missing")
    messages, _unseen = await session.imap.status(folder) if listed.selectable else (0, 0)
    return FolderInfo(
        name=folder,
        leaf=leaf_of(folder, where.delimiter),
        messages=messages,
        children=tuple(f.name for f in _children(folders, folder, where.delimiter)),
    )


async def delete(session: MailSession, folder: str) -> FolderInfo:
    """Delete ``folder`` and its subfolders, deepest first; their messages with them."""
    info = await describe(session, folder)
    delimiter = (await place(session)).delimiter or ""
    for name in sorted(info.children, key=lambda n: n.count(delimiter), reverse=True):
        await _run(session, session.imap.delete_folder(name), name)
    await _run(session, session.imap.delete_folder(info.name), info.name)
    return info


def leaf_of(folder: str, delimiter: str | None) -> str:
    return folder.rsplit(delimiter, 1)[-1] if delimiter else folder


def _parent(folder: str, delimiter: str | None) -> str:
    """The parent's name with its separator ("Patients/" for "Patients/Durand"), or ""."""
    if not delimiter or delimiter not in folder:
        return ""
    return folder.rsplit(delimiter, 1)[0] + delimiter


def _children(folders: list[Folder], folder: str, delimiter: str | None) -> list[Folder]:
    if not delimiter:
        return []
    return [f for f in folders if f.name.startswith(folder + delimiter)]


async def _inside(session: MailSession, folder: str) -> str:
    try:
        return await mailboxes.inside(session, folder)
    except mailboxes.FolderOutside:
        raise FolderRefused("missing") from None


async def _changeable(session: MailSession, folder: str) -> str:
    """``folder`` inside the session's mailbox, and neither INBOX nor a special folder."""
    folder = await _inside(session, folder)
    box, _reached = await mailboxes.current(session)
    if folder in (box.inbox, "INBOX") or folder.upper() == "INBOX":
        raise FolderRefused("inbox")
    if any(entry.role and entry.name == folder for entry in await mailboxes.entries(session)):
        raise FolderRefused("special")
    return folder


async def _fresh_list(session: MailSession) -> list[Folder]:
    session.cache.folder_list = None
    return await mailbox.folder_list(session.imap, session.cache)


async def _refuse_existing(session: MailSession, name: str) -> None:
    if len(encode_mailbox(name)) > MAX_ENCODED_CHARS:
        raise FolderRefused("too_long")
    existing = {f.name.casefold() for f in await _fresh_list(session)}
    if name.casefold() in existing:
        raise FolderRefused("exists")


async def _run(session: MailSession, command: Awaitable[None], name: str) -> None:
    """One folder command; the folder list (and its unread counts) is read again after."""
    try:
        await command
    except ImapCommandFailed as error:
        raise FolderRefused("server", error.text) from None
    finally:
        session.cache.forget(name)
