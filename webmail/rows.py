"""The message list's rows, rendered once and kept in a small bounded cache.

A row is the same HTML as long as what it shows is the same: the message (fixed for a UID while
the folder's UIDVALIDITY holds), its flags, the reader's language, the day it is read on (the
date reads "14:05" today and "hier" tomorrow), the conversation it stands for and its link. All
of these are in the key, with the account: a row is never served to another user, and a change
of any of them is a miss, never a stale row. Rendering 50 rows through the template costs
milliseconds; 50 hits cost microseconds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from webmail.formatting import PARIS
from webmail.mail.mailbox import Summary

ROWS_KEPT = 5000  # about 1.2 KB each: a few MB per process, whatever the number of users


@dataclass(frozen=True)
class RowScope:
    """What every row of one list shares: whose list, of which folder, in which order."""

    account: str
    folder: str
    uidvalidity: int
    order: str


class RowCache:
    """Least recently used rows first out, at most ``size`` of them."""

    def __init__(self, size: int = ROWS_KEPT) -> None:
        self.size = size
        self._rows: OrderedDict[Hashable, Markup] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Markup | None:
        row = self._rows.get(key)
        if row is None:
            self.misses += 1
            return None
        self._rows.move_to_end(key)
        self.hits += 1
        return row

    def put(self, key: Hashable, row: Markup) -> None:
        self._rows[key] = row
        self._rows.move_to_end(key)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def clear(self) -> None:
        self._rows.clear()
        self.hits = self.misses = 0

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._rows))

    def __len__(self) -> int:
        return len(self._rows)


rows = RowCache()


def _today() -> date:
    return datetime.now(PARIS).date()


def row_key(
    scope: RowScope,
    message: Summary,
    language: str,
    conversation: int | None,
    href: str | None,
    current: bool = False,
    folder_role: str | None = None,
) -> Hashable:
    return (
        scope,
        message.uid,
        message.flags,
        message.size,
        language,
        _today(),
        conversation,
        href,
        current,  # the row of the message open beside the list (aria-current)
        folder_role,  # Drafts rows carry "Continuer"; a page may not know the folder's role
    )


@pass_context
def cached_row(
    context: Context,
    message: Summary,
    render: Callable[..., Any],
    href: str | None = None,
) -> Markup:
    """The row of ``message``, from the cache or rendered by the template's ``render`` macro.

    Without a ``row_scope`` in the template's context (a page that did not ask for caching),
    the row is rendered every time.
    """
    scope = context.get("row_scope")
    if not isinstance(scope, RowScope):
        shown: Markup = render(message, href)  # a macro's output: already markup
        return shown
    grouping = context.get("conversations")
    conversation = grouping.counts.get(message.uid) if grouping else None
    current = context.get("uid") == message.uid
    language = str(context.get("language", "fr"))
    role = context.get("folder_role")
    key = row_key(scope, message, language, conversation, href, current, role)
    row: Markup | None = rows.get(key)
    if row is None:
        row = render(message, href)
        rows.put(key, row)
    return row
