"""Ended sessions told to every app process, so each closes that session's IMAP connections.

A session's requests may have gone through several processes (or machines), each holding its
own IMAP connection and live-inbox watcher for it. Whoever ends a session (logout, "end the
other sessions", Pro Santé Connect refusing a token) deletes it in Redis, closes what its own
process holds, and publishes the session ids on one pub/sub channel; every process listens on
that channel with one task and closes what it holds for them.

Pub/sub is fire-and-forget: a process that was not subscribed when a message went out (Redis
restarting, a Sentinel failover) never gets it. Nothing is served meanwhile, since every
request reads its session in Redis; and each time the listener has (re)joined the channel it
checks every session its process holds against Redis and closes those that are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection

from redis.asyncio import Redis
from redis.exceptions import RedisError

from webmail.auth.sessions import KEY_PREFIX

log = logging.getLogger(__name__)

CHANNEL = "mss:sessions:ended"
# How long one read waits before the loop looks again (and redis-py pings a quiet link).
READ_SECONDS = 5.0
# After Redis went away: first wait, then doubled up to the cap.
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 5.0
# At most this long to leave the channel (at shutdown, or after an error).
STOP_SECONDS = 2.0

# Closes what this process holds for a session (its IMAP connection, its watcher).
Closer = Callable[[str], Awaitable[None]]
# The sessions this process holds something for.
Holdings = Callable[[], Collection[str]]


async def publish(redis: Redis, session_ids: Collection[str]) -> None:
    """Tell every process; never fails the caller (the sessions are already deleted)."""
    if not session_ids:
        return
    try:
        await redis.publish(CHANNEL, " ".join(session_ids))
    except (RedisError, OSError) as error:
        log.warning("ended sessions not broadcast (%s): other processes reconcile", error)


class SessionEnds:
    """The channel of ended sessions, as one process publishes and listens to it."""

    def __init__(self, redis: Redis, close: Closer, held: Holdings) -> None:
        self.redis = redis
        self.close = close
        self.held = held
        self._task: asyncio.Task[None] | None = None
        # Besides the cancel: asyncio.wait_for (Python < 3.12) may swallow a cancel that
        # arrives as what it waits for completes (an IMAP logout while closing a session).
        self._stopping = False
        # Each time the listener (re)joined the channel: tests wait on it after a restart.
        self.joined = 0

    async def publish(self, session_ids: Collection[str]) -> None:
        await publish(self.redis, session_ids)

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        """Stop listening; never holds up a shutdown for long, whatever Redis is doing."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
        if not done:
            log.warning("ended-sessions listener still stopping; shutting down anyway")

    async def _listen(self) -> None:
        backoff = BACKOFF_FIRST_SECONDS
        while not self._stopping:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                while not self._stopping:
                    message = await pubsub.get_message(timeout=READ_SECONDS)
                    if message is not None:
                        await self._handle(message)
                        backoff = BACKOFF_FIRST_SECONDS
            except (RedisError, OSError) as error:
                log.info("ended-sessions channel lost (%s); joining again", error)
            except Exception:  # whatever it was, this process must go on listening
                log.exception("ended-sessions listener failed; joining again")
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), STOP_SECONDS)  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_CAP_SECONDS)

    async def _handle(self, message: dict[str, object]) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            # (Re)joined: what was published while away is lost, so look for it in Redis.
            self.joined += 1
            await self.reconcile()
        elif kind == "message":
            data = message.get("data")
            # Session ids are ASCII; anything else on the channel matches no session.
            text = data.decode("ascii", "replace") if isinstance(data, bytes) else str(data)
            for session_id in text.split():
                await self._close(session_id)

    async def reconcile(self) -> int:
        """Close what this process holds for sessions no longer in Redis; how many."""
        held = sorted(self.held())
        if not held:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in held:
                pipe.exists(KEY_PREFIX + session_id)
            found = await pipe.execute()
        gone = [session_id for session_id, exists in zip(held, found, strict=True) if not exists]
        for session_id in gone:
            await self._close(session_id)
        return len(gone)

    async def _close(self, session_id: str) -> None:
        try:
            await self.close(session_id)
        except Exception:  # one session's failure must not stop the listener
            log.exception("closing an ended session's connections failed")
