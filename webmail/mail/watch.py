"""New mail without reloading: one watcher per open web session, shared by its tabs.

A watcher holds a second IMAP connection in IDLE (RFC 2177) and tells its listeners (the
session's open pages) when a folder they show changes. Connections per account are bounded
across app instances by leases in Redis; a session that gets none, or a server without IDLE,
polls with STATUS on the session's own connection instead. A watcher stops a short grace
after its last listener left, when its session ends, and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from webmail.mail.connections import ConnectionPool
from webmail.mail.imap import ImapClient, ImapError
from webmail.settings import LiveConfig

log = logging.getLogger(__name__)

LEASE_PREFIX = "mss:watchers:"
# A lease is renewed this often; one not renewed for LEASE_SECONDS (its instance died) lapses.
LEASE_SECONDS = 90
# After a failure the watcher waits this long before it tries again.
RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Change:
    """What a page is told about the folder it shows; ``new`` when mail arrived."""

    folder: str
    unseen: int
    new: bool


# Put in a listener's queue when its session ended (logout, expiry): the page reloads.
ENDED = Change(folder="", unseen=0, new=False)


_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class WatcherLeases:
    """How many watchers an account holds, all app instances together (one Lua script, so
    that two instances cannot both take the last one)."""

    def __init__(self, redis: Redis, limit: int) -> None:
        self.redis = redis
        self.limit = limit

    def _key(self, user: str) -> str:
        return LEASE_PREFIX + hashlib.sha256(user.lower().encode()).hexdigest()[:32]

    async def acquire(self, user: str, holder: str) -> bool:
        """Take (or renew) ``holder``'s lease; False when the account has none left."""
        now = time.time()
        taken = await self.redis.eval(
            _ACQUIRE,
            1,
            self._key(user),
            str(now),
            str(now + LEASE_SECONDS),
            holder,
            str(self.limit),
            str(LEASE_SECONDS * 2),
        )
        return bool(taken)

    async def renew(self, user: str, holder: str) -> None:
        """Keep a lease held (never takes one: XX)."""
        await self.redis.zadd(self._key(user), {holder: time.time() + LEASE_SECONDS}, xx=True)

    async def release(self, user: str, holder: str) -> None:
        await self.redis.zrem(self._key(user), holder)

    async def held(self, user: str) -> int:
        key = self._key(user)
        await self.redis.zremrangebyscore(key, "-inf", str(time.time()))
        return int(await self.redis.zcard(key))


@dataclass
class _Credentials:
    user: str
    password: str


@dataclass
class Watcher:
    """The watcher of one web session."""

    session_key: str
    credentials: _Credentials
    folders: Counter[str] = field(default_factory=Counter)
    listeners: dict[asyncio.Queue[Change], str] = field(default_factory=dict)
    known: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    # "idle" or "poll" once started: tests and logs tell the two apart.
    mode: str = ""
    task: asyncio.Task[None] | None = None
    stopping: asyncio.TimerHandle | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, change: Change) -> None:
        for queue, folder in self.listeners.items():
            if change is ENDED or folder == change.folder:
                queue.put_nowait(change)


class Watchers:
    """Every watcher of this app instance."""

    def __init__(self, pool: ConnectionPool, leases: WatcherLeases, config: LiveConfig) -> None:
        self.pool = pool
        self.leases = leases
        self.config = config
        self.instance = secrets.token_hex(8)
        self._watchers: dict[str, Watcher] = {}
        pool.on_discard.append(self.end)

    def get(self, session_key: str) -> Watcher | None:
        return self._watchers.get(session_key)

    def sessions(self) -> list[str]:
        return list(self._watchers)

    def renew(self, session_key: str, user: str, password: str) -> None:
        """The session's freshest password or access token, for the watcher's next login (a
        Pro Santé Connect token expires while a page stays open)."""
        watcher = self._watchers.get(session_key)
        if watcher is not None and watcher.credentials.user == user:
            watcher.credentials.password = password

    @contextlib.asynccontextmanager
    async def listen(
        self, session_key: str, user: str, password: str, folder: str
    ) -> AsyncIterator[asyncio.Queue[Change]]:
        """A queue of the changes to ``folder`` while the caller (one open page) listens."""
        watcher = self._watchers.get(session_key)
        if watcher is None or watcher.credentials.user != user:
            watcher = Watcher(session_key, _Credentials(user, password))
            self._watchers[session_key] = watcher
        watcher.credentials.password = password  # the freshest (an access token expires)
        if watcher.stopping is not None:
            watcher.stopping.cancel()
            watcher.stopping = None
        queue: asyncio.Queue[Change] = asyncio.Queue()
        watcher.listeners[queue] = folder
        watcher.folders[folder] += 1
        if folder in watcher.known:
            queue.put_nowait(Change(folder, watcher.known[folder][1], new=False))
        watcher.wake.set()
        if watcher.task is None or watcher.task.done():  # a watcher that failed starts again
            watcher.task = asyncio.get_running_loop().create_task(self._run(watcher))
        try:
            yield queue
        finally:
            self._leave(watcher, queue, folder)

    def _leave(self, watcher: Watcher, queue: asyncio.Queue[Change], folder: str) -> None:
        watcher.listeners.pop(queue, None)
        watcher.folders[folder] -= 1
        if watcher.folders[folder] <= 0:
            del watcher.folders[folder]
            watcher.known.pop(folder, None)
        if not watcher.listeners and self._watchers.get(watcher.session_key) is watcher:
            watcher.stopping = asyncio.get_running_loop().call_later(
                self.config.grace_seconds, self._grace_over, watcher
            )

    async def end(self, session_key: str) -> None:
        """The session ended (logout, expiry): its pages are told, its watcher stops."""
        watcher = self._watchers.get(session_key)
        if watcher is not None:
            watcher.publish(ENDED)
            await self._stop(watcher)

    async def close_all(self) -> None:
        for watcher in list(self._watchers.values()):
            watcher.publish(ENDED)
            await self._stop(watcher)

    def _grace_over(self, watcher: Watcher) -> None:
        watcher.stopping = None
        if not watcher.listeners:  # else a page came back during the grace
            asyncio.get_running_loop().create_task(self._stop(watcher))

    async def _stop(self, watcher: Watcher) -> None:
        if self._watchers.get(watcher.session_key) is watcher:
            del self._watchers[watcher.session_key]
        if watcher.stopping is not None:
            watcher.stopping.cancel()
            watcher.stopping = None
        if watcher.task is not None:
            watcher.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher.task

    # -- the watcher's own loop ----------------------------------------------------------

    async def _run(self, watcher: Watcher) -> None:
        holder = f"{self.instance}:{watcher.session_key}"
        imap: ImapClient | None = None
        renewing = asyncio.get_running_loop().create_task(
            self._renew(watcher.credentials.user, holder)
        )
        try:
            while True:
                if imap is None or not imap.alive:
                    imap = await self._idle_connection(watcher, holder)
                watcher.mode = "idle" if imap is not None else "poll"
                try:
                    await self._look(watcher, imap)
                    await self._wait(watcher, imap)
                except ImapError as error:
                    log.info("watcher: %s; trying again", error)
                    if imap is not None:
                        imap.close()
                        imap = None
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            renewing.cancel()
            if imap is not None:
                await imap.logout()
            with contextlib.suppress(Exception):
                await self.leases.release(watcher.credentials.user, holder)

    async def _idle_connection(self, watcher: Watcher, holder: str) -> ImapClient | None:
        """A second connection in IDLE when the server has it and the account's budget allows;
        None: poll on the session's own connection."""
        user = watcher.credentials.user
        if not self.config.idle or self.config.watchers_per_user == 0:
            return None
        try:
            if not await self.leases.acquire(user, holder):
                return None
        except Exception:  # Redis away: no second connection rather than an uncounted one
            log.warning("watcher: cannot count connections; polling instead")
            return None
        try:
            imap = await self.pool.open(user, watcher.credentials.password)
        except ImapError as error:
            log.info("watcher: no second connection (%s); polling instead", error)
            await self.leases.release(user, holder)
            return None
        if not imap.has_capability("IDLE"):
            await imap.logout()
            await self.leases.release(user, holder)
            return None
        return imap

    async def _look(self, watcher: Watcher, imap: ImapClient | None) -> None:
        """STATUS of every folder a page shows; each change told to that folder's pages."""
        folders = list(watcher.folders)
        if imap is not None:
            found = {folder: await imap.counts(folder) for folder in folders}
        else:
            credentials = watcher.credentials
            async with self.pool.use(
                watcher.session_key, credentials.user, credentials.password
            ) as session:
                found = {folder: await session.imap.counts(folder) for folder in folders}
        for folder, counts in found.items():
            before = watcher.known.get(folder)
            watcher.known[folder] = counts
            if before is not None and before != counts:
                arrived = counts[2] > before[2] or counts[0] > before[0]
                watcher.publish(Change(folder, counts[1], new=arrived))
            elif before is None:
                watcher.publish(Change(folder, counts[1], new=False))

    async def _wait(self, watcher: Watcher, imap: ImapClient | None) -> None:
        watcher.wake.clear()
        if imap is None:
            await _wait_event(watcher.wake, self.config.poll_seconds)
            return
        # IDLE watches one folder: with pages on several, the others are looked at in turn.
        seconds = self.config.idle_renew_seconds
        if len(watcher.folders) > 1:
            seconds = min(seconds, self.config.poll_seconds)
        folder = next(iter(watcher.folders), "INBOX")
        if imap.selected is None or imap.selected.name != folder:
            await imap.select(folder)
        await imap.idle(seconds, watcher.wake)

    async def _renew(self, user: str, holder: str) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            with contextlib.suppress(Exception):
                await self.leases.renew(user, holder)


async def _wait_event(event: asyncio.Event, seconds: float) -> Any:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
