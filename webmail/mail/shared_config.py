"""What the deployment says about shared (organisational) mailboxes; read in settings."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class SharedIdentity:
    """How to write from one organisational mailbox: its address and the organisation's name."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class SharedMailboxConfig:
    # Accounts that work only through organisational mailboxes (a secretary): their own
    # mailbox is never shown. Shell patterns on the login address, e.g. "secretariat.*@*".
    organisational_only: tuple[str, ...] = ()
    # The shared namespace's name of an account -> its address and name, for servers that
    # name accounts by a bare login ("shared.secretariat.") or to show the organisation's name.
    identities: tuple[tuple[str, SharedIdentity], ...] = ()

    def personal_hidden(self, user: str) -> bool:
        return any(fnmatch.fnmatchcase(user.lower(), p.lower()) for p in self.organisational_only)

    def identity(self, owner: str) -> SharedIdentity | None:
        for name, identity in self.identities:
            if name.lower() == owner.lower():
                return identity
        return None
