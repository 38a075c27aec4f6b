"""Message lists: sorted UIDs and envelopes of a page, cached and revalidated per mailbox.

A page costs one SELECT when nothing changed: the sorted UID list is kept while UIDVALIDITY,
UIDNEXT and EXISTS hold, flags while HIGHESTMODSEQ holds, and envelopes (which never change
for a UID) while UIDVALIDITY holds.

The cache is bounded per session (a few folders, least recently used out first; a thousand
envelopes; UIDs as 4-byte arrays, 40 KB for 10,000 messages): with hundreds of sessions per
process, what one clinician pages through must not grow the process (bench/processes.py).
"""

from __future__ import annotations

import time
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from webmail.mail import mime
from webmail.mail.by_parts import Overviews
from webmail.mail.drafts import OUTCOME_UNKNOWN
from webmail.mail.imap import Folder, ImapClient, MailboxState
from webmail.mail.imap_syntax import FetchItem, Namespace, as_text

SUMMARY_HEADERS = "DATE FROM TO CC SUBJECT CONTENT-TYPE MESSAGE-ID X-MSS-INS X-MSS-CODECDA"
SUMMARY_ITEMS = f"(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({SUMMARY_HEADERS})])"
# What sorting by date needs of each message when the server cannot sort (RFC 5256's key).
DATE_ITEMS = "(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE)])"

# The list's orders: by the Date header (what the list shows), or by arrival.
BY_DATE = "date"
BY_ARRIVAL = "arrival"
ORDERS = (BY_DATE, BY_ARRIVAL)


@dataclass(frozen=True)
class Summary:
    uid: int
    subject: str
    sender: mime.Address | None
    to: tuple[mime.Address, ...]
    date: datetime | None
    size: int
    has_attachment: bool
    kind: str
    flags: frozenset[str] = frozenset()

    @property
    def seen(self) -> bool:
        return "\\Seen" in self.flags

    @property
    def flagged(self) -> bool:
        return "\\Flagged" in self.flags

    @property
    def answered(self) -> bool:
        return "\\Answered" in self.flags

    @property
    def outcome_unknown(self) -> bool:
        """A draft whose sending may already have reached its recipients."""
        return any(flag.lower() == OUTCOME_UNKNOWN.lower() for flag in self.flags)

    @property
    def display_subject(self) -> str:
        return mime.display_subject(self.subject)


@dataclass(frozen=True)
class Page:
    folder: str
    number: int
    pages: int
    total: int
    messages: list[Summary]
    state: MailboxState
    # The last UID shown when more follow: "load more" asks for what comes after it.
    next_after: int | None = None


@dataclass
class _FolderCache:
    state: MailboxState
    uids: array[int]
    envelopes: OrderedDict[int, Summary] = field(default_factory=OrderedDict)
    order: str = BY_DATE
    # The order before the last change: where a vanished "load more" anchor used to be.
    previous: array[int] = field(default_factory=lambda: array("I"))
    # Without SORT: each UID's RFC 5256 date (Date header, else INTERNALDATE), in UTC seconds.
    dates: dict[int, float] = field(default_factory=dict)
    # The folder's (UIDVALIDITY, UIDNEXT, EXISTS) when ``uids`` was sorted; ``state`` is
    # what the flags shown were read with.
    sorted_at: tuple[int, ...] = ()


@dataclass
class _FolderList:
    at: float
    folders: list[Folder]
    seen_state: tuple[str, tuple[int, int, int, int | None]] | None


class MailboxCache:
    """Per IMAP login: what we know of each folder, bounded in size."""

    # Ten pages of one folder ("load more" back and forth stays cached), a thousand in all.
    MAX_ENVELOPES_PER_FOLDER = 500
    MAX_ENVELOPES = 1000
    # Folders whose sorted list is kept (the envelopes are bounded above, whatever the folders).
    MAX_FOLDERS = 10
    # The folder list with its unread counts is reused this long, unless the folder on screen
    # changed: other folders' counts may lag by this much, the open one never does.
    FOLDER_LIST_SECONDS = 30.0

    def __init__(self) -> None:
        # Least recently used first.
        self.folders: OrderedDict[str, _FolderCache] = OrderedDict()
        self.folder_list: _FolderList | None = None
        # Shared mailboxes (mail/mailboxes.py): other users' namespaces, and this login's
        # ACL rights per folder with the time they were read.
        self.other_namespaces: list[Namespace] | None = None
        self.rights: dict[str, tuple[float, str | None]] = {}
        # Headers and BODYSTRUCTUREs of the messages opened last (mail/by_parts.py).
        self.overviews = Overviews()

    def forget(self, folder: str) -> None:
        self.folders.pop(folder, None)
        self.folder_list = None

    def envelope_count(self) -> int:
        return sum(len(entry.envelopes) for entry in self.folders.values())

    def _keep(self, name: str, entry: _FolderCache) -> None:
        """``entry`` is the folder in use: the most recent; the oldest beyond the bound go."""
        self.folders[name] = entry
        self.folders.move_to_end(name)
        while len(self.folders) > self.MAX_FOLDERS:
            self.folders.popitem(last=False)

    def _trim(self, current: _FolderCache) -> None:
        """Envelopes over the session's bound go: other folders' first, oldest first."""
        excess = self.envelope_count() - self.MAX_ENVELOPES
        for entry in [*(e for e in self.folders.values() if e is not current), current]:
            while excess > 0 and entry.envelopes:
                entry.envelopes.popitem(last=False)
                excess -= 1


async def folder_list(
    imap: ImapClient, cache: MailboxCache, current: MailboxState | None = None
) -> list[Folder]:
    """All folders with counts; one LIST-STATUS at most every FOLDER_LIST_SECONDS."""
    held = cache.folder_list
    state = (current.name, current.cache_key) if current is not None else None
    fresh = held is not None and time.monotonic() - held.at < MailboxCache.FOLDER_LIST_SECONDS
    if held is not None and fresh and (state is None or held.seen_state == state):
        return held.folders
    folders = await imap.list_folders()
    cache.folder_list = _FolderList(at=time.monotonic(), folders=folders, seen_state=state)
    return folders


async def list_page(
    imap: ImapClient,
    cache: MailboxCache,
    folder: str,
    page: int,
    page_size: int,
    *,
    order: str = BY_DATE,
    after: int | None = None,
) -> Page:
    """One page of the folder: the ``page``-th, or with ``after`` the ``page_size`` messages
    that follow that UID in the list, so that mail arriving meanwhile shifts nothing."""
    state = await imap.refresh(folder)
    entry = await _sorted(imap, cache, state, order)
    found = await _page_of(imap, entry, state, entry.uids, page, page_size, after)
    cache._trim(entry)
    return found


async def sorted_folder(
    imap: ImapClient, cache: MailboxCache, folder: str, order: str = BY_DATE
) -> Sequence[int]:
    """The folder's UIDs in the list's order, newest first (cached like the list), selected."""
    state = await imap.refresh(folder)
    return (await _sorted(imap, cache, state, order)).uids


async def page_of(
    imap: ImapClient,
    cache: MailboxCache,
    folder: str,
    uids: Sequence[int],
    page: int,
    page_size: int,
    *,
    after: int | None = None,
) -> Page:
    """A page of some of the folder's messages (a search's matches) in the order given,
    right after ``sorted_folder`` selected it."""
    state = imap.selected
    entry = cache.folders.get(folder)
    if state is None or state.name != folder or entry is None:
        state = await imap.refresh(folder)
        entry = await _sorted(imap, cache, state, BY_DATE)
    found = await _page_of(imap, entry, state, uids, page, page_size, after)
    cache._trim(entry)
    return found


async def _page_of(
    imap: ImapClient,
    entry: _FolderCache,
    state: MailboxState,
    uids: Sequence[int],
    page: int,
    page_size: int,
    after: int | None,
) -> Page:
    total = len(uids)
    pages = max(1, -(-total // page_size))
    if after is not None:
        start = _start_after(uids, entry.previous, after)
    else:
        start = (min(max(1, page), pages) - 1) * page_size
    page_uids = list(uids[start : start + page_size])
    messages = await _summaries(imap, entry, page_uids)
    entry.state = state
    more = start + page_size < total and bool(page_uids)
    return Page(
        folder=state.name,
        number=start // page_size + 1,
        pages=pages,
        total=total,
        messages=messages,
        state=state,
        next_after=page_uids[-1] if more else None,
    )


def _start_after(uids: Sequence[int], previous: Sequence[int], after: int) -> int:
    if after in uids:
        return uids.index(after) + 1
    # The anchor went (deleted, moved): start at the first message that followed it then.
    present = set(uids)
    if after in previous:
        for uid in previous[previous.index(after) + 1 :]:
            if uid in present:
                return uids.index(uid)
        return len(uids)
    return 0


async def _sorted(
    imap: ImapClient, cache: MailboxCache, state: MailboxState, order: str
) -> _FolderCache:
    entry = cache.folders.get(state.name)
    if entry is None or entry.state.uidvalidity != state.uidvalidity:
        entry = _FolderCache(state=state, uids=array("I"), order=order)
        entry.uids = await _sorted_uids(imap, entry, order)
    elif entry.sorted_at != state.cache_key[:3] or entry.order != order:
        entry.previous = entry.uids
        entry.uids = await _sorted_uids(imap, entry, order)
        entry.order = order
    entry.sorted_at = state.cache_key[:3]
    cache._keep(state.name, entry)
    return entry


async def _sorted_uids(imap: ImapClient, entry: _FolderCache, order: str) -> array[int]:
    """Kept as 4-byte unsigned integers (UIDs are 32-bit): a tenth of a list of ints."""
    by_date = order == BY_DATE
    uids = await imap.sorted_uids(by_date=by_date)
    if not by_date or imap.has_capability("SORT"):
        return array("I", uids)
    # No SORT: each message's date is fetched once, then sorted here the way RFC 5256 does
    # (ties by arrival), so the list's order is the order of the dates it shows.
    missing = [uid for uid in uids if uid not in entry.dates]
    for item in await imap.fetch(missing, DATE_ITEMS):
        if item.uid is not None:
            entry.dates[item.uid] = _sort_date(item)
    present = set(uids)
    entry.dates = {uid: when for uid, when in entry.dates.items() if uid in present}
    return array("I", sorted(uids, key=lambda uid: (entry.dates.get(uid, 0.0), uid), reverse=True))


def _sort_date(item: FetchItem) -> float:
    header_block = next(
        (value for key, value in item.data.items() if key.startswith("BODY[HEADER")), None
    )
    headers = mime.parse_headers(header_block if isinstance(header_block, bytes) else b"")
    when = mime.header_date(headers) or _internal_date(item)
    return when.timestamp() if when is not None else 0.0


async def _summaries(imap: ImapClient, entry: _FolderCache, uids: list[int]) -> list[Summary]:
    flags_changed = entry.state.highestmodseq is None or (
        entry.state.cache_key != imap.selected.cache_key if imap.selected else True
    )
    missing = [uid for uid in uids if uid not in entry.envelopes]
    if missing:
        for item in await imap.fetch(missing, SUMMARY_ITEMS):
            summary = summary_from_fetch(item)
            if summary is not None:
                entry.envelopes[summary.uid] = summary
    known = [uid for uid in uids if uid in entry.envelopes and uid not in missing]
    if known and flags_changed:
        for item in await imap.fetch(known, "(UID FLAGS)"):
            uid = item.uid
            if uid is not None and uid in entry.envelopes:
                entry.envelopes[uid] = replace(entry.envelopes[uid], flags=_flags(item))
    for uid in uids:
        if uid in entry.envelopes:
            entry.envelopes.move_to_end(uid)
    while len(entry.envelopes) > MailboxCache.MAX_ENVELOPES_PER_FOLDER:
        entry.envelopes.popitem(last=False)
    return [entry.envelopes[uid] for uid in uids if uid in entry.envelopes]


def update_cached_flags(
    cache: MailboxCache, folder: str, uid: int, flags: set[str], add: bool
) -> None:
    cache.folder_list = None  # unread counts changed
    entry = cache.folders.get(folder)
    if entry is None or uid not in entry.envelopes:
        return
    summary = entry.envelopes[uid]
    new = summary.flags | flags if add else summary.flags - flags
    entry.envelopes[uid] = replace(summary, flags=frozenset(new))


def summary_from_fetch(item: FetchItem) -> Summary | None:
    uid = item.uid
    if uid is None:
        return None
    header_block = next(
        (value for key, value in item.data.items() if key.startswith("BODY[HEADER")), None
    )
    headers = mime.parse_headers(header_block if isinstance(header_block, bytes) else b"")
    subject = mime.header_text(headers, "subject")
    size = item.data.get("RFC822.SIZE")
    date = mime.header_date(headers) or _internal_date(item)
    content_type = headers.get_content_type()
    return Summary(
        uid=uid,
        subject=subject,
        sender=mime.sender(mime.addresses(headers, "from")),
        to=tuple(mime.addresses(headers, "to")),
        date=date,
        size=size if isinstance(size, int) else 0,
        has_attachment=content_type in ("multipart/mixed", "multipart/report")
        or bool(headers.get("x-mss-codecda")),
        kind=mime.message_kind(headers, subject),
        flags=_flags(item),
    )


def _flags(item: FetchItem) -> frozenset[str]:
    flags = item.data.get("FLAGS")
    return frozenset(as_text(flag) for flag in flags) if isinstance(flags, list) else frozenset()


def _internal_date(item: FetchItem) -> datetime | None:
    value = item.data.get("INTERNALDATE")
    if not isinstance(value, bytes):
        return None
    try:
        # Some servers pad the day with a space (" 7-Jan-2026 ...").
        return datetime.strptime(value.decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None
