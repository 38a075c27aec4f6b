"""Senders whose remote images a user always wants shown, kept in Redis (one set per account).

A remote image tells its sender that, when and from where the message was read: for a
health professional's mail that is itself sensitive. Images stay blocked unless the user
asks, for one message or for one sender. "Always for this sender" rests on the From address,
which anyone can write: it is offered, and honoured, only for a sender nothing marks as
forged (``trusted_sender``).
"""

from __future__ import annotations

import hashlib
import re

from redis.asyncio import Redis

from webmail.mail.mime import ParsedMessage
from webmail.trust.recipients import domain_of
from webmail.trust.whitelist import Whitelist

KEY_PREFIX = "mss:image-senders:"
# A list nobody reads to the end is no choice anymore; the store refuses past this.
MAX_SENDERS = 500
_ADDRESS = re.compile(r"[^\s@<>\"(),;:\\\x00-\x1f\x7f]{1,64}@[a-z0-9.-]{1,253}")
# A receiving server's verdicts that say the From address was not the sender's to use.
_FAILED = re.compile(r"\b(dmarc|dkim|spf)\s*=\s*(fail|softfail|permerror)\b", re.I)


class ImageSenders:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def key(account: str) -> str:
        return KEY_PREFIX + hashlib.sha256(account.lower().encode()).hexdigest()

    async def allows(self, account: str, sender: str | None) -> bool:
        if sender is None:
            return False
        return bool(await self.redis.sismember(self.key(account), sender))

    async def add(self, account: str, sender: str) -> bool:
        """False when the list is full (the sender is then not added)."""
        key = self.key(account)
        if await self.redis.scard(key) >= MAX_SENDERS:
            return bool(await self.redis.sismember(key, sender))
        await self.redis.sadd(key, sender)
        return True

    async def remove(self, account: str, sender: str) -> None:
        await self.redis.srem(self.key(account), sender.strip().lower())

    async def senders(self, account: str) -> list[str]:
        members = await self.redis.smembers(self.key(account))
        found = (m.decode("utf-8", "replace") if isinstance(m, bytes) else str(m) for m in members)
        return sorted(found)


def trusted_sender(message: ParsedMessage, whitelist: Whitelist | None) -> str | None:
    """The From address, lower-cased, when the message gives no sign of a forged sender; None
    otherwise. Signs: not exactly one From address; a Sender other than From; a Return-Path in
    another domain (or empty: a report); a failed DMARC, DKIM or SPF verdict; and, where the
    deployment has the trust space's whitelist (``whitelist`` not None), a From domain outside
    it. A deployment without one has only the header signs to go by."""
    if len(message.from_) != 1:
        return None
    address = message.from_[0].address.strip().lower()
    domain = domain_of(address)
    if domain is None or not _ADDRESS.fullmatch(address):
        return None
    origin = message.origin
    if origin.sender and _bare(origin.sender) != address:
        return None
    if origin.return_path and domain_of(_bare(origin.return_path)) != domain:
        return None
    if any(_FAILED.search(verdict) for verdict in origin.authentication_results):
        return None
    if whitelist is not None and domain not in whitelist.domains:
        return None
    return address


def _bare(value: str) -> str:
    """The address of a header such as ``Name <a@b>`` or ``<a@b>``."""
    inside = value.rsplit("<", 1)[-1].split(">", 1)[0] if "<" in value else value
    return inside.strip().lower()
