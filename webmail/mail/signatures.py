"""A signature per mailbox the account writes from, kept in Redis (one hash per account).

Plain text, inserted under the "-- " separator (RFC 3676 4.3) in new messages, replies and
forwards. The personal mailbox and each organisational one have their own: a secretariat's
messages are not signed with the practitioner's personal line.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

KEY_PREFIX = "mss:signature:"
MAX_CHARS = 2000
SEPARATOR = "-- "


class SignatureStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def key(account: str) -> str:
        return KEY_PREFIX + hashlib.sha256(account.lower().encode()).hexdigest()

    async def get(self, account: str, mailbox: str) -> str:
        value = await self.redis.hget(self.key(account), _field(mailbox))
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return value or ""

    async def set(self, account: str, mailbox: str, text: str) -> None:
        text = clean(text)
        if text:
            await self.redis.hset(self.key(account), _field(mailbox), text)
        else:
            await self.redis.hdel(self.key(account), _field(mailbox))


def clean(text: str) -> str:
    """Plain text, bounded; a separator typed by the user is not doubled."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").split("\n")
    if lines and lines[0].rstrip() == SEPARATOR.rstrip():
        lines = lines[1:]
    return "\n".join(line.rstrip() for line in lines).strip("\n")[:MAX_CHARS]


def signed(body: str, signature: str, *, above_quote: bool) -> str:
    """``body`` with the signature: at the end of a new message; in a reply or forward,
    above the quoted original, where the user writes."""
    if not signature:
        return body
    block = f"\n\n{SEPARATOR}\n{signature}\n"
    return block + body if above_quote else body + block


def _field(mailbox: str) -> str:
    return mailbox or "personal"
