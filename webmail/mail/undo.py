"""Undo a move, an archive, a deletion to Trash, or marking a selection read.

What was done is kept in Redis for the undo window, under the web session's key, and taken
once (GETDEL): a second Annuler, or one from another session, finds nothing. Folder names
and UIDs are mail metadata: the record is sealed with the session's own key by the caller
(``seal``/``unseal``), like the session's password, so Redis alone does not tell them.

A moved message's new UID comes from COPYUID (UIDPLUS, RFC 4315); a server without it is
asked for the Message-IDs in the target folder instead. MOVE and COPY keep the flags, so the
message comes back as it left: read or not, flagged, with its keywords.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from redis.asyncio import Redis

from webmail.auth.sessions import redis_errors
from webmail.mail import imap_syntax as syntax
from webmail.mail.imap import ImapClient

KEY_PREFIX = "mss:undo:"
MOVE = "move"
FLAGS = "flags"
TOKEN_BYTES = 16
TOKEN_CHARS = 22  # token_urlsafe(16)


@dataclass(frozen=True)
class UndoRecord:
    kind: str  # MOVE or FLAGS
    label: str  # what the notice says was done: "deleted", "archived", "moved", "read"...
    source: str  # where the messages were before
    target: str  # where they are now (the same folder for FLAGS)
    count: int
    uids: list[int] = field(default_factory=list)  # in target; empty when the server did not say
    message_ids: list[str] = field(default_factory=list)  # to find them again without UIDPLUS
    flag: str = ""  # FLAGS: the flag that was set (add) or removed
    added: bool = True

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> UndoRecord | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True)
class Pending:
    """The latest undo of a session, as the list page shows it."""

    token: str
    label: str
    count: int


class UndoStore:
    def __init__(self, redis: Redis, seconds: int) -> None:
        self.redis = redis
        self.seconds = seconds

    async def keep(
        self, session_key: str, record: UndoRecord, seal: Callable[[str], str]
    ) -> Pending:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        pending = Pending(token=token, label=record.label, count=record.count)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(_key(session_key, token), seal(record.to_json()), ex=self.seconds)
                # Only the latest action is offered: the notice shows one Annuler.
                pipe.set(_latest(session_key), json.dumps(asdict(pending)), ex=self.seconds)
                await pipe.execute()
        return pending

    async def latest(self, session_key: str) -> Pending | None:
        with redis_errors():
            raw = await self.redis.get(_latest(session_key))
        if raw is None:
            return None
        try:
            return Pending(**json.loads(raw))
        except (ValueError, TypeError):
            return None

    async def take(
        self, session_key: str, token: str, unseal: Callable[[str], str | None]
    ) -> UndoRecord | None:
        """The record, once; None after the window, when already taken, or another session's."""
        if (
            len(token) != TOKEN_CHARS
            or not token.isascii()
            or not token.replace("-", "").replace("_", "").isalnum()
        ):
            return None  # never one of ours, nor the "latest" pointer's key
        with redis_errors():
            raw = await self.redis.getdel(_key(session_key, token))
            await self.redis.delete(_latest(session_key))
        if raw is None:
            return None
        text = unseal(raw.decode() if isinstance(raw, bytes) else str(raw))
        return UndoRecord.from_json(text) if text is not None else None


async def message_ids(imap: ImapClient, uids: Sequence[int]) -> list[str]:
    """The Message-IDs of messages about to move, for a server that will not say their new
    UIDs (no UIDPLUS); asked only there, as it costs one more FETCH."""
    if imap.has_capability("UIDPLUS"):
        return []
    items = await imap.fetch(uids, "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    found = []
    for item in items:
        header = next((v for k, v in item.data.items() if k.startswith("BODY[")), b"")
        if isinstance(header, bytes):
            value = header.decode("ascii", "replace").partition(":")[2].strip()
            if value:
                found.append(value)
    return found


async def restore(imap: ImapClient, record: UndoRecord) -> int:
    """Put the messages back as they were; returns how many came back."""
    await imap.select(record.target)
    if record.kind == FLAGS:
        await imap.store_flags(record.uids, [record.flag], add=not record.added)
        return record.count
    if record.uids:
        # Only those still there: another client may have moved or removed some meanwhile.
        uids = await imap.search_uids("UID", ",".join(str(uid) for uid in record.uids))
    else:
        uids = await _find(imap, record.message_ids)
    if uids:
        await imap.move(uids, record.source)
    return len(uids)


async def _find(imap: ImapClient, ids: Sequence[str]) -> list[int]:
    found: set[int] = set()
    for message_id in ids:
        if any(c in message_id for c in "\r\n\x00"):
            continue
        found.update(await imap.search_uids("HEADER", "Message-ID", syntax.quote(message_id)))
    return sorted(found)


def _key(session_key: str, token: str) -> str:
    return f"{KEY_PREFIX}{session_key}:{token}"


def _latest(session_key: str) -> str:
    return f"{KEY_PREFIX}{session_key}:latest"
