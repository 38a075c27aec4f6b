"""The user's own recent correspondents: the recipients of the latest messages in Sent.

Suggested before the directory when writing, since a clinician mostly writes to the same few
colleagues. Kept in this process's memory per session for a few minutes (never in the browser,
never in Redis in clear), so typing does not cost an IMAP round trip per keystroke.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from webmail.directory.text import begins_a_word, words
from webmail.mail import mailbox
from webmail.mail.folders import assign_roles
from webmail.mail.imap import ImapClient
from webmail.mail.mailbox import MailboxCache

SENT_MESSAGES = 100
KEEP_SECONDS = 180
MAX_SESSIONS = 2000


@dataclass(frozen=True)
class Correspondent:
    name: str
    address: str

    def matches(self, typed: list[str]) -> bool:
        """Whether every word typed (folded) begins a word of the name or of the address."""
        own = words(f"{self.name} {self.address}")
        return all(begins_a_word(word, own) for word in typed)


async def from_sent(imap: ImapClient, cache: MailboxCache) -> list[Correspondent]:
    """The distinct recipients of the latest messages in Sent, most recent first; [] when the
    account has no Sent folder (it is not created for this)."""
    sent = assign_roles(await mailbox.folder_list(imap, cache)).get("sent")
    if sent is None:
        return []
    page = await mailbox.list_page(imap, cache, sent, 1, SENT_MESSAGES)
    seen: set[str] = set()
    found: list[Correspondent] = []
    for message in page.messages:
        for recipient in message.to:
            key = recipient.address.casefold()
            if "@" in key and key not in seen:
                seen.add(key)
                found.append(Correspondent(recipient.name, recipient.address))
    return found


Loader = Callable[[], Awaitable[list[Correspondent]]]


class RecentCorrespondents:
    """Per-session memory of the list above, for KEEP_SECONDS, for at most MAX_SESSIONS."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS, max_sessions: int = MAX_SESSIONS):
        self.keep_seconds = keep_seconds
        self.max_sessions = max_sessions
        self._held: OrderedDict[str, tuple[float, list[Correspondent]]] = OrderedDict()

    async def get(self, session_key: str, load: Loader) -> list[Correspondent]:
        now = time.monotonic()
        held = self._held.get(session_key)
        if held is not None and now - held[0] < self.keep_seconds:
            self._held.move_to_end(session_key)
            return held[1]
        found = await load()
        self._held[session_key] = (now, found)
        self._held.move_to_end(session_key)
        while len(self._held) > self.max_sessions:
            self._held.popitem(last=False)
        return found
