"""The mailboxes one login can reach: its own, and the organisational ones shared with it.

An organisational mailbox (a secretariat, a practice's shared box) is another account whose
folders the IMAP server shares through ACLs (RFC 4314), under its "other users" namespace
(RFC 2342): ``shared/<account>/`` on Dovecot, ``Other Users.<account>.`` elsewhere. Prefix and
separator come from NAMESPACE, never assumed; the folders and their unread counts from the one
LIST (with STATUS) the folder list already makes; what the login may do from MYRIGHTS.

The web session says which mailbox it is on; every folder a request names must lie inside
that one (``inside``), so editing a URL never reaches another mailbox's folder.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace

from webmail.mail import mailbox, special_folders
from webmail.mail.connections import MailSession
from webmail.mail.folders import FolderEntry, assign_roles, folder_entries
from webmail.mail.imap import Folder, ImapClient, MailboxState
from webmail.mail.imap_syntax import Namespace
from webmail.mail.special_folders import CREATED_NAMES, FolderUnavailable

PERSONAL = ""  # the key of the account's own mailbox
# ACL rights are read again after this long: an operator's change shows within a minute.
RIGHTS_SECONDS = 60.0
_ADDRESS = re.compile(r"[^@\s<>\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class NoMailbox(Exception):
    """The account may reach no mailbox at all (organisational-only, and nothing shared)."""


class FolderOutside(Exception):
    """A folder name outside the mailbox the session is on (or not a sound name at all)."""


class SenderRefused(Exception):
    """The form asks to write from a mailbox this login may not write from."""


@dataclass(frozen=True)
class Rights:
    """ACL rights (RFC 4314 letters) on one folder; ``letters`` None: the server has no ACL,
    so everything is assumed and the server's own refusals are the judge."""

    letters: str | None

    def _has(self, wanted: str) -> bool:
        return self.letters is None or all(letter in self.letters for letter in wanted)

    @property
    def read(self) -> bool:
        return self._has("r")

    @property
    def mark_seen(self) -> bool:
        return self._has("s")

    @property
    def flag(self) -> bool:
        return self._has("w")

    @property
    def insert(self) -> bool:
        return self._has("i")

    @property
    def delete(self) -> bool:
        # RFC 4314 splits RFC 2086's "d" into "t" (mark deleted) and "e" (expunge).
        return self._has("te") or self._has("d")


ALL_RIGHTS = Rights(None)


@dataclass(frozen=True)
class Mailbox:
    key: str  # PERSONAL, or the account's name in the shared namespace
    address: str | None  # what it writes from; None when unknown (then it cannot send)
    name: str  # the organisation's name, when the deployment gives one
    inbox: str  # the full IMAP name of its INBOX
    base: str  # every other folder's name starts with this ("" for the account's own)
    delimiter: str | None
    unseen: int | None
    rights: Rights  # on its INBOX
    # The account's own mailbox: the namespaces of other accounts, which it does not hold.
    excluded: tuple[str, ...] = ()

    @property
    def personal(self) -> bool:
        return self.key == PERSONAL

    def holds(self, folder: str) -> bool:
        if folder == self.inbox or (self.personal and folder.upper() == "INBOX"):
            return True
        if self.personal:
            outside = any(folder.startswith(p) or folder == p[:-1] for p in self.excluded)
            return not outside and _sound(folder, self.delimiter)
        return folder.startswith(self.base) and _sound(folder[len(self.base) :], self.delimiter)

    def relative(self, folder: str) -> str:
        """The name inside the mailbox: "INBOX", "Sent", "Archives/2026"."""
        if folder == self.inbox:
            return "INBOX"
        return folder[len(self.base) :] if not self.personal else folder


@dataclass(frozen=True)
class Reach:
    """Every mailbox this login may use, its own first (unless hidden), then the others."""

    mailboxes: tuple[Mailbox, ...]

    def get(self, key: str) -> Mailbox | None:
        return next((box for box in self.mailboxes if box.key == key), None)

    def current(self, key: str) -> Mailbox:
        """The mailbox the session is on, or the first one (a secretary's organisational one)."""
        found = self.get(key) or (self.mailboxes[0] if self.mailboxes else None)
        if found is None:
            raise NoMailbox
        return found

    @property
    def personal(self) -> Mailbox | None:
        return self.get(PERSONAL)


async def reach(session: MailSession) -> Reach:
    """What this login may reach; costs nothing more than the folder list when cached."""
    imap, cache = session.imap, session.cache
    if cache.other_namespaces is None:
        cache.other_namespaces = await imap.other_users_namespaces()
    namespaces = cache.other_namespaces
    folders = await mailbox.folder_list(imap, cache)
    boxes: list[Mailbox] = []
    if not session.shared.personal_hidden(session.user):
        boxes.append(_personal(session.user, folders, namespaces))
    for namespace in namespaces:
        for owner, owned in _by_owner(namespace, folders).items():
            box = await _shared(session, namespace, owner, owned)
            if box is not None:
                boxes.append(box)
    return Reach(tuple(boxes))


async def current(session: MailSession) -> tuple[Mailbox, Reach]:
    reached = await reach(session)
    return reached.current(session.mailbox), reached


async def inside(session: MailSession, folder: str) -> str:
    """``folder`` checked to be in the session's mailbox; "INBOX" is that mailbox's INBOX.
    Raises FolderOutside, whatever the reason: a name of another mailbox says nothing."""
    box, _reached = await current(session)
    if folder.upper() == "INBOX":
        return box.inbox
    if not box.holds(folder):
        raise FolderOutside(folder)
    return folder


async def rights(session: MailSession, folder: str) -> Rights:
    """This login's rights on one folder of the session's mailbox (its own: everything)."""
    box, _reached = await current(session)
    if box.personal:
        return ALL_RIGHTS
    return await _rights(session.imap, session.cache, folder)


async def entries(session: MailSession, state: MailboxState | None = None) -> list[FolderEntry]:
    """The session's mailbox's folders in display order, with their full IMAP names."""
    box, _reached = await current(session)
    folders = await mailbox.folder_list(session.imap, session.cache, state)
    return _entries(box, folders)


async def role_folder(session: MailSession, role: str, *, fallback: bool = True) -> str:
    """Drafts, Sent or Trash for the session's mailbox. The account's own are created when
    missing. An organisational mailbox's is used when the login may add messages to it;
    otherwise, with ``fallback``, the account's own (a draft or a sent copy is then kept in
    the user's own mailbox), else FolderUnavailable. While a message is written, the mailbox
    it is from (``session.writing_from``) decides."""
    reached = await reach(session)
    writing = session.writing_from
    box = reached.current(session.mailbox if writing is None else writing)
    if box.personal:
        return await special_folders.role_folder(session.imap, session.cache, role, box.holds)
    folders = await mailbox.folder_list(session.imap, session.cache)
    found = _roles(box, folders).get(role)
    if found is not None and (await _rights(session.imap, session.cache, found)).insert:
        return found
    own = reached.personal
    if fallback and own is not None:
        return await special_folders.role_folder(session.imap, session.cache, role, own.holds)
    raise FolderUnavailable(role, box.base + CREATED_NAMES[role][0], "no right to add messages")


@dataclass(frozen=True)
class Sender:
    """Who a message is from: the mailbox's address, and the user's own address as the
    Sender (RFC 5322 3.6.2) when writing for an organisational mailbox."""

    mailbox: str
    address: str
    name: str
    agent: str  # "" from the account's own mailbox


def senders(reached: Reach, user: str) -> list[Sender]:
    """The addresses this login may write from: its own (unless hidden), and each
    organisational mailbox with a known address that it may add messages to."""
    found = []
    for box in reached.mailboxes:
        if box.personal:
            found.append(Sender(PERSONAL, user, "", ""))
        elif box.address is not None and box.rights.insert:
            found.append(Sender(box.key, box.address, box.name, user))
    return found


async def sender(session: MailSession, key: str) -> Sender:
    """The sender the form chose, checked against what this login may use: never taken
    from the form as it is. Raises SenderRefused."""
    _box, reached = await current(session)
    for candidate in senders(reached, session.user):
        if candidate.mailbox == key:
            return candidate
    raise SenderRefused(key)


async def default_sender(session: MailSession) -> Sender | None:
    """The session's mailbox when it can write, else the first the login may use."""
    box, reached = await current(session)
    allowed = senders(reached, session.user)
    return next((s for s in allowed if s.mailbox == box.key), allowed[0] if allowed else None)


# -- building the list ---------------------------------------------------------------------


def _personal(user: str, folders: list[Folder], namespaces: list[Namespace]) -> Mailbox:
    inbox = next((f for f in folders if f.name.upper() == "INBOX"), None)
    return Mailbox(
        key=PERSONAL,
        address=user,
        name="",
        inbox=inbox.name if inbox is not None else "INBOX",
        base="",
        delimiter=inbox.delimiter if inbox is not None else None,
        unseen=inbox.unseen if inbox is not None else None,
        rights=ALL_RIGHTS,
        excluded=tuple(_base(namespace) for namespace in namespaces if namespace.prefix),
    )


def _by_owner(namespace: Namespace, folders: list[Folder]) -> dict[str, list[Folder]]:
    """The folders under an other-users namespace, by account: ``shared/a@x/Sent`` -> a@x."""
    base = _base(namespace)
    owned: dict[str, list[Folder]] = {}
    for folder in folders:
        if not base or not folder.name.startswith(base):
            continue
        rest = folder.name[len(base) :]
        owner = rest.split(namespace.delimiter, 1)[0] if namespace.delimiter else rest
        if owner:
            owned.setdefault(owner, []).append(folder)
    return owned


async def _shared(
    session: MailSession, namespace: Namespace, owner: str, owned: list[Folder]
) -> Mailbox | None:
    node = _base(namespace) + owner
    base = node + (namespace.delimiter or "")
    inbox = _inbox_of(node, base, owned)
    if inbox is None:
        return None
    granted = await _rights(session.imap, session.cache, inbox.name)
    if not granted.read:
        return None  # listed (lookup right) but not readable: nothing to show
    unseen = inbox.unseen
    if unseen is None and not session.imap.has_capability("LIST-STATUS"):
        _messages, unseen = await session.imap.status(inbox.name)
    identity = session.shared.identity(owner)
    address = identity.address if identity else (owner if _ADDRESS.fullmatch(owner) else None)
    return Mailbox(
        key=owner,
        address=address,
        name=identity.name if identity else "",
        inbox=inbox.name,
        base=base,
        delimiter=namespace.delimiter,
        unseen=unseen,
        rights=granted,
    )


def _inbox_of(node: str, base: str, owned: list[Folder]) -> Folder | None:
    """The account's INBOX: listed as ``shared/a@x/INBOX``, or as the account's own node
    ``shared/a@x`` (Dovecot with LAYOUT=fs, Cyrus' ``user.a``)."""
    selectable = [folder for folder in owned if folder.selectable]
    named = [folder for folder in selectable if folder.name == base + "INBOX"]
    nodes = [folder for folder in selectable if folder.name == node]
    found = named or nodes
    return found[0] if found else None


def _base(namespace: Namespace) -> str:
    prefix, delimiter = namespace.prefix, namespace.delimiter
    if delimiter and prefix and not prefix.endswith(delimiter):
        return prefix + delimiter
    return prefix


async def _rights(imap: ImapClient, cache: mailbox.MailboxCache, folder: str) -> Rights:
    held = cache.rights.get(folder)
    if held is not None and time.monotonic() - held[0] < RIGHTS_SECONDS:
        return Rights(held[1])
    letters = await imap.my_rights(folder)
    cache.rights[folder] = (time.monotonic(), letters)
    return Rights(letters)


def _relative_folders(box: Mailbox, folders: list[Folder]) -> dict[str, Folder]:
    """The mailbox's folders named as inside it (INBOX, Sent...), mapped to the real ones."""
    inside_box = {}
    for folder in folders:
        if box.holds(folder.name):
            inside_box[box.relative(folder.name)] = folder
    return inside_box


def _entries(box: Mailbox, folders: list[Folder]) -> list[FolderEntry]:
    relative = _relative_folders(box, folders)
    named = [replace(folder, name=name) for name, folder in relative.items()]
    return [replace(entry, name=relative[entry.name].name) for entry in folder_entries(named)]


def _roles(box: Mailbox, folders: list[Folder]) -> dict[str, str]:
    relative = _relative_folders(box, folders)
    named = [replace(folder, name=name) for name, folder in relative.items()]
    return {role: relative[name].name for role, name in assign_roles(named).items()}


def _sound(name: str, delimiter: str | None) -> bool:
    """No empty, "." or ".." level: never a real folder, and a way out of a prefix."""
    if not delimiter:
        return name not in ("", ".", "..")
    return all(part not in ("", ".", "..") for part in name.split(delimiter))
