"""Sent, Drafts, Trash, Archive on any server: found when they exist, created when they do not.

Many operators' servers give a new account INBOX alone and leave the rest to the client. A
folder created here goes where the server keeps personal folders: under the personal
NAMESPACE prefix, with the server's separator (``INBOX.Sent`` with ``INBOX.``, ``Sent`` with
an empty prefix), and is marked with its special use where the server can record that
(CREATE-SPECIAL-USE, RFC 6154). Elsewhere it is found again next time by its name.
"""

from __future__ import annotations

from collections.abc import Callable

from webmail.mail import mailbox
from webmail.mail.folders import assign_roles
from webmail.mail.imap import Folder, ImapClient, ImapCommandFailed, ImapError
from webmail.mail.mailbox import MailboxCache

# The names given to folders created here, and the special use they are marked with.
CREATED_NAMES = {
    "drafts": ("Drafts", "\\Drafts"),
    "sent": ("Sent", "\\Sent"),
    "trash": ("Trash", "\\Trash"),
    "archive": ("Archive", "\\Archive"),
    "junk": ("Junk", "\\Junk"),
}


class FolderUnavailable(ImapError):
    """The account has no folder for this role, and the server refuses to create one."""

    def __init__(self, role: str, name: str, refusal: str) -> None:
        super().__init__(f"no {role} folder, and CREATE {name!r} was refused: {refusal}")
        self.role = role
        self.name = name
        self.refusal = refusal


async def role_folder(
    imap: ImapClient,
    cache: MailboxCache,
    role: str,
    among: Callable[[str], bool] | None = None,
) -> str:
    """The name of the account's folder for ``role`` ("sent", "drafts", "trash"...), created
    when missing. ``among``: which listed names are the account's own (LIST also shows
    folders other accounts share with it). Raises FolderUnavailable when the server refuses,
    ImapUnavailable when it cannot be reached."""

    async def own_folders() -> list[Folder]:
        listed = await mailbox.folder_list(imap, cache)
        return [folder for folder in listed if among is None or among(folder.name)]

    folders = await own_folders()
    found = assign_roles(folders).get(role)
    if found is not None:
        return found
    leaf, special_use = CREATED_NAMES[role]
    candidates = await _names_to_try(imap, folders, leaf)
    refusal = ""
    for name in candidates:
        try:
            await imap.create_special_folder(name, special_use)
        except ImapCommandFailed as error:
            refusal = error.text
            continue
        cache.folder_list = None  # the next folder list must show it
        return name
    # Another session of the same account may have just created it (ALREADYEXISTS).
    cache.folder_list = None
    found = assign_roles(await own_folders()).get(role)
    if found is not None:
        return found
    raise FolderUnavailable(role, candidates[0], refusal)


async def _names_to_try(imap: ImapClient, folders: list[Folder], leaf: str) -> list[str]:
    namespace = await imap.personal_namespace()
    if namespace is not None:
        prefix, delimiter = namespace.prefix, namespace.delimiter
        if prefix and delimiter and not prefix.endswith(delimiter):
            prefix += delimiter
        return [prefix + leaf]
    # Without NAMESPACE the prefix is unknown: the top level first, then under INBOX, where
    # servers that refuse top-level folders keep them, with the separator LIST gave INBOX.
    delimiter = next((f.delimiter for f in folders if f.name.upper() == "INBOX"), None)
    return [leaf, f"INBOX{delimiter}{leaf}"] if delimiter else [leaf]
