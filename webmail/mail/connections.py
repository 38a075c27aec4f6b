"""One IMAP connection per session, behind a lock, reopened when the server dropped it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from webmail.mail.connection_limits import (
    UserConnectionLimit,
    UserSlots,
    WebmailConnectionLimit,
)
from webmail.mail.imap import ImapClient, ImapUnavailable
from webmail.mail.mailbox import MailboxCache
from webmail.mail.shared_config import SharedMailboxConfig
from webmail.settings import Settings

log = logging.getLogger(__name__)

# A connection unused for this long is probed with NOOP before use: servers close idle ones.
PROBE_AFTER_SECONDS = 60.0
# The envelopes all sessions of the process may cache together (about 1.5 KB each): past it
# the reaper empties the caches of the sessions used least recently (bench/processes.py).
PROCESS_ENVELOPES = 100_000


@dataclass
class MailSession:
    """What a request works with: the connection and what we cached about the mailbox."""

    imap: ImapClient
    cache: MailboxCache
    # The account, the mailbox the web session is on ("" its own, else an organisational
    # one: mail/mailboxes.py), and what the deployment says about shared mailboxes.
    user: str = ""
    mailbox: str = ""
    shared: SharedMailboxConfig = field(default_factory=SharedMailboxConfig)
    # The mailbox a message being written is from, once checked: its drafts and sent copy
    # go there (None: the session's mailbox).
    writing_from: str | None = None


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    imap: ImapClient | None = None
    cache: MailboxCache = field(default_factory=MailboxCache)
    user: str = ""
    mailbox: str = ""
    last_used: float = field(default_factory=time.monotonic)
    # Names this entry's slot in the user's count (connection_limits.UserSlots).
    holder: str = field(default_factory=lambda: secrets.token_hex(8))
    slot_renewed: float = 0.0


def make_ssl_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(settings.ca_bundle) if settings.ca_bundle else None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class ConnectionPool:
    def __init__(self, settings: Settings, slots: UserSlots | None = None) -> None:
        self.settings = settings
        # Without slots (domain tests), only the per-process cap applies.
        self.slots = slots
        self.ssl_context = make_ssl_context(settings)
        self._entries: dict[str, _Entry] = {}
        self._reaper: asyncio.Task[None] | None = None
        # Called with the session key when a session's connection is discarded (logout,
        # session end): what else the session holds (its live-inbox watcher) goes too.
        self.on_discard: list[Callable[[str], Awaitable[None]]] = []

    async def open(self, user: str, password: str, client_ip: str | None = None) -> ImapClient:
        """A new logged-in connection (raises ImapAuthFailed / ImapUnavailable)."""
        imap = await ImapClient.connect(
            self.settings.imap, self.ssl_context, self.settings.imap_timeout_seconds
        )
        try:
            # The server may know the user by another name than the address (MSS_LOGIN_FORMAT).
            await imap.login(self.settings.login_name(user), password, client_ip)
        except BaseException:
            imap.close()
            raise
        return imap

    def rekey(self, old_key: str, new_key: str) -> None:
        """Hand a session's connection to the session that replaces it (new id at login)."""
        entry = self._entries.pop(old_key, None)
        if entry is not None:
            self._entries[new_key] = entry

    def choose(self, session_key: str, mailbox: str) -> None:
        """The mailbox the session's requests work in (kept in the web session)."""
        self._entries.setdefault(session_key, _Entry()).mailbox = mailbox

    @contextlib.asynccontextmanager
    async def use(self, session_key: str, user: str, password: str) -> AsyncIterator[MailSession]:
        entry = self._entries.setdefault(session_key, _Entry())
        async with entry.lock:
            if entry.user and entry.user != user:
                raise ImapUnavailable("session user changed")  # never share a login
            await self._ensure_connected(entry, user, password)
            assert entry.imap is not None
            entry.last_used = time.monotonic()
            try:
                yield MailSession(
                    imap=entry.imap,
                    cache=entry.cache,
                    user=user,
                    mailbox=entry.mailbox,
                    shared=self.settings.shared,
                )
            except ImapUnavailable:
                entry.imap.close()
                entry.imap = None
                raise
            finally:
                entry.last_used = time.monotonic()

    async def _ensure_connected(self, entry: _Entry, user: str, password: str) -> None:
        if entry.imap is not None and entry.imap.alive:
            await self._renew_slot(entry, user)
            if time.monotonic() - entry.last_used < PROBE_AFTER_SECONDS:
                return
            try:
                await entry.imap.noop()
                return
            except ImapUnavailable:
                log.info("IMAP connection dropped by the server; reconnecting")
        if entry.imap is None:
            await self._make_room()
        await self._take_slot(entry, user)
        try:
            entry.imap = await self.open(user, password)
        except BaseException:
            await self._give_back_slot(entry, user)
            raise
        entry.user = user
        entry.imap.selected = None

    def open_connections(self) -> int:
        return sum(1 for entry in self._entries.values() if entry.imap is not None)

    def sessions(self) -> list[str]:
        """The sessions this pool holds something for (mail/broadcast.py checks them)."""
        return list(self._entries)

    async def _make_room(self) -> None:
        """Below the per-process cap, or close the least recently used idle connection."""
        if self.open_connections() < self.settings.connection_limits.per_process:
            return
        idle = [
            (entry.last_used, key)
            for key, entry in self._entries.items()
            if entry.imap is not None and not entry.lock.locked()
        ]
        if not idle:
            log.warning("IMAP connections per process at the cap, none idle")
            raise WebmailConnectionLimit("per-process cap reached")
        await self.discard(min(idle)[1], session_ended=False)

    async def _take_slot(self, entry: _Entry, user: str) -> None:
        if self.slots is not None and not await self.slots.take(user, entry.holder):
            raise UserConnectionLimit("the webmail's share of the user's connections")
        entry.slot_renewed = time.monotonic()

    async def _renew_slot(self, entry: _Entry, user: str) -> None:
        # A slot lives a little longer than an idle connection: renewed now and then, not on
        # every request (one Redis round trip saved).
        if self.slots is not None and time.monotonic() - entry.slot_renewed > 60:
            await self._take_slot(entry, user)

    async def _give_back_slot(self, entry: _Entry, user: str) -> None:
        if self.slots is not None and user:
            with contextlib.suppress(Exception):  # it expires by itself anyway
                await self.slots.give_back(user, entry.holder)

    async def discard(self, session_key: str, *, session_ended: bool = True) -> None:
        """Close the session's connection; ``session_ended`` False when only unused."""
        if session_ended:
            for hook in self.on_discard:
                await hook(session_key)
        entry = self._entries.pop(session_key, None)
        if entry is None:
            return
        if entry.imap is not None:
            async with entry.lock:
                await entry.imap.logout()
                entry.imap = None
        await self._give_back_slot(entry, entry.user)

    async def close_idle(self) -> int:
        limit = time.monotonic() - self.settings.imap_idle_close_seconds
        idle = [
            key
            for key, entry in self._entries.items()
            if entry.last_used < limit and not entry.lock.locked()
        ]
        for key in idle:
            await self.discard(key, session_ended=False)
        return len(idle)

    def trim_caches(self, limit: int = PROCESS_ENVELOPES) -> int:
        """Empty the mailbox caches of the least recently used sessions until the process's
        envelopes are within ``limit``; how many caches were emptied. Their connections stay:
        the next request of such a session fetches its page again."""
        counts = {key: entry.cache.envelope_count() for key, entry in self._entries.items()}
        total = sum(counts.values())
        emptied = 0
        by_age = sorted(self._entries.items(), key=lambda item: item[1].last_used)
        for key, entry in by_age:
            if total <= limit:
                break
            if entry.lock.locked() or not counts[key]:
                continue
            entry.cache = MailboxCache()
            total -= counts[key]
            emptied += 1
        return emptied

    def start_reaper(self) -> None:
        async def reap() -> None:
            while True:
                await asyncio.sleep(30)
                with contextlib.suppress(Exception):
                    await self.close_idle()
                    self.trim_caches()

        self._reaper = asyncio.get_running_loop().create_task(reap())

    async def close_all(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for key in list(self._entries):
            await self.discard(key, session_ended=False)
