"""Which folder is Sent, Drafts, Trash, Archive: SPECIAL-USE first, well-known names second."""

from __future__ import annotations

from dataclasses import dataclass

from webmail.i18n import N_
from webmail.mail.imap import Folder

ROLES = ("inbox", "drafts", "sent", "archive", "junk", "trash")

_SPECIAL_USE = {
    "\\Drafts": "drafts",
    "\\Sent": "sent",
    "\\Trash": "trash",
    "\\Archive": "archive",
    "\\Junk": "junk",
}

# Names seen on servers without SPECIAL-USE, in French and English, with the usual prefixes.
_KNOWN_NAMES = {
    "drafts": ("drafts", "brouillons", "draft"),
    "sent": (
        "sent",
        "sent items",
        "sent messages",
        "envoyés",
        "messages envoyés",
        "elements envoyes",
    ),
    "trash": ("trash", "corbeille", "deleted items", "deleted messages", "bin"),
    "archive": ("archive", "archives"),
    "junk": ("junk", "spam", "indésirables", "courrier indésirable"),
}

ROLE_LABELS = {
    "inbox": N_("Boîte de réception"),
    "drafts": N_("Brouillons"),
    "sent": N_("Envoyés"),
    "archive": N_("Archives"),
    "junk": N_("Indésirables"),
    "trash": N_("Corbeille"),
}


@dataclass(frozen=True)
class FolderEntry:
    name: str
    role: str | None
    label: str  # French source string for roles, the folder's own leaf name otherwise
    depth: int
    unseen: int | None
    messages: int | None
    selectable: bool


def assign_roles(folders: list[Folder]) -> dict[str, str]:
    """Map role -> folder name for the folders this account has."""
    roles: dict[str, str] = {}
    for folder in folders:
        if folder.name.upper() == "INBOX":
            roles["inbox"] = folder.name
        role = _SPECIAL_USE.get(folder.special_use or "")
        if role and role not in roles:
            roles[role] = folder.name
    for role, names in _KNOWN_NAMES.items():
        if role in roles:
            continue
        for folder in folders:
            leaf = _leaf(folder).lower()
            if leaf in names and folder.selectable:
                roles[role] = folder.name
                break
    return roles


def folder_entries(folders: list[Folder]) -> list[FolderEntry]:
    """Folders in display order: INBOX and the special ones first, then the rest by name."""
    roles = assign_roles(folders)
    by_name = {
        folder.name: role
        for role, folder_name in roles.items()
        for folder in folders
        if folder.name == folder_name
    }

    prefixed = _inbox_is_a_prefix(folders)

    def sort_key(folder: Folder) -> tuple[int, str]:
        role = by_name.get(folder.name)
        if role is None and not prefixed and _under_inbox(folder):
            role = "inbox"  # a real subfolder of INBOX: shown right under it
        return (ROLES.index(role) if role else len(ROLES), folder.name.lower())

    entries = []
    for folder in sorted(folders, key=sort_key):
        role = by_name.get(folder.name)
        entries.append(
            FolderEntry(
                name=folder.name,
                role=role,
                label=ROLE_LABELS[role] if role else _leaf(folder),
                depth=0 if role else _depth(folder, prefixed),
                unseen=folder.unseen,
                messages=folder.messages,
                selectable=folder.selectable,
            )
        )
    return entries


def _leaf(folder: Folder) -> str:
    if folder.delimiter and folder.delimiter in folder.name:
        return folder.name.rsplit(folder.delimiter, 1)[1]
    return folder.name


def _under_inbox(folder: Folder) -> bool:
    return bool(folder.delimiter) and folder.name.upper().startswith(f"INBOX{folder.delimiter}")


def _inbox_is_a_prefix(folders: list[Folder]) -> bool:
    """Whether every folder lives under INBOX, as on servers whose personal namespace is
    ``INBOX.``: there "INBOX." is a prefix, not a parent (elsewhere "INBOX/x" is a child)."""
    others = [folder for folder in folders if folder.name.upper() != "INBOX"]
    return bool(others) and all(_under_inbox(folder) for folder in others)


def _depth(folder: Folder, prefixed: bool) -> int:
    if not folder.delimiter:
        return 0
    name = folder.name
    if prefixed and _under_inbox(folder):
        name = name[len("INBOX") + 1 :]
    return name.count(folder.delimiter)
