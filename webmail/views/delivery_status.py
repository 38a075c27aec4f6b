"""Delivery and read status on a message we sent, from the reports that came back to INBOX.

In Sent, the message's status lines ("Remis à…", "Non remis à… : …", "Lu par… le…") come
from the DSN and MDN that name its Message-ID. They are found with one bounded search of
INBOX (reports only, since the day before the message was sent, the Message-ID anywhere in
the text); the answer is kept per message, and a later visit only looks at what arrived
since. A report opened itself is shown as the same status lines and its text for people.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from webmail.mail import mailboxes, receipts
from webmail.mail.connections import MailSession
from webmail.mail.imap import ImapError
from webmail.mail.imap_syntax import quote
from webmail.mail.mime import ParsedMessage
from webmail.mail.search import imap_day

log = logging.getLogger(__name__)

# The reports read for one message, newest first: a message bounced by 200 lists is rare.
MAX_REPORTS = 20
CACHE_SIZE = 500


@dataclass(frozen=True)
class _Seen:
    last_uid: int  # the highest INBOX UID looked at
    validity: int  # INBOX's UIDVALIDITY then
    statuses: tuple[receipts.Status, ...]


# Per session, Sent folder, UIDVALIDITY and UID: what the reports said, and how far we read.
_seen: OrderedDict[tuple[str, str, int, int], _Seen] = OrderedDict()


async def of_report(
    session: MailSession, uid: int, message: ParsedMessage
) -> receipts.Report | None:
    """The report the message is, read from its first bytes (the selected folder's ``uid``)."""
    if message.kind not in ("dsn", "mdn"):
        return None
    try:
        raw = await _start_of(session, uid)
    except ImapError:
        log.warning("report unreadable: shown as its text")
        return None
    return receipts.parse_report(raw) if raw else None


async def of_sent(
    session: MailSession, key: str, folder: str, uid: int, message: ParsedMessage, sent: str | None
) -> list[receipts.Status]:
    """The status lines of a message of Sent; none elsewhere. Selects INBOX: call it last."""
    if folder != sent or not message.message_id or not message.message_id.isascii():
        return []  # a non-ASCII id cannot be searched without CHARSET, and never is ours
    selected = session.imap.selected
    validity = selected.uidvalidity if selected is not None else 0
    cache_key = (key, folder, validity, uid)
    try:
        return list(await _statuses(session, cache_key, message))
    except ImapError as error:
        log.warning("delivery status unavailable: %s", type(error).__name__)
        held = _seen.get(cache_key)
        return list(held.statuses) if held is not None else []


async def _statuses(
    session: MailSession, cache_key: tuple[str, str, int, int], message: ParsedMessage
) -> tuple[receipts.Status, ...]:
    inbox = await mailboxes.inside(session, "INBOX")
    state = await session.imap.ensure_selected(inbox)
    held = _seen.get(cache_key)
    if held is not None and held.validity != state.uidvalidity:
        held = None
    criteria = ["HEADER", "Content-Type", quote("report"), "TEXT", quote(message.message_id or "")]
    if message.date is not None:
        criteria = ["SINCE", imap_day((message.date - timedelta(days=1)).date()), *criteria]
    if held is not None:
        criteria = ["UID", f"{held.last_uid + 1}:*", *criteria]
    found = sorted(
        (u for u in await session.imap.search(criteria) if held is None or u > held.last_uid),
        reverse=True,
    )[:MAX_REPORTS]
    statuses = list(held.statuses) if held is not None else []
    for report_uid in sorted(found):
        statuses += _about(await _start_of(session, report_uid), message.message_id or "")
    last = max([*found, held.last_uid if held is not None else 0])
    _remember(cache_key, _Seen(last, state.uidvalidity, tuple(statuses)))
    return tuple(statuses)


def _about(raw: bytes | None, message_id: str) -> list[receipts.Status]:
    report = receipts.parse_report(raw) if raw else None
    if report is None or message_id not in report.about:
        return []
    return list(report.statuses)


async def _start_of(session: MailSession, uid: int) -> bytes | None:
    items = await session.imap.fetch([uid], f"(UID BODY.PEEK[]<0.{receipts.REPORT_BYTES}>)")
    for item in items:
        data = item.data.get("BODY[]")
        if item.uid == uid and isinstance(data, bytes):
            return data
    return None


def _remember(key: tuple[str, str, int, int], seen: _Seen) -> None:
    _seen[key] = seen
    _seen.move_to_end(key)
    while len(_seen) > CACHE_SIZE:
        _seen.popitem(last=False)
