"""Search on the server (IMAP SEARCH), in one folder or in several within a time budget.

Every value the user typed goes to the server as a quoted string (in UTF-8 with ``CHARSET
UTF-8`` when it is not ASCII), never spliced into the command: quotes, backslashes,
parentheses, ``{5}`` or ``*`` are then only characters to look for. Control characters
(CR, LF, NUL...) are never sent: they cannot be typed in a search box and mean nothing there.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

from webmail.i18n import N_
from webmail.mail import mailbox
from webmail.mail.imap import ImapClient, ImapCommandFailed
from webmail.mail.imap_syntax import quote

# Longer input is refused (said, the text kept in the form), never cut without a word.
MAX_LENGTH = 200
MAX_WORDS = 12
# Cross-folder search stops starting new folders after this long: what was found is shown.
BUDGET_SECONDS = 5.0

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SPACES = re.compile(r"\s+")
# Text criteria of the form, each with its IMAP search key; the free text looks in all four.
TEXT_KEYS = {"sender": "FROM", "recipient": "TO", "subject": "SUBJECT", "body": "BODY"}


TOO_LONG = N_("Recherche trop longue : 200 caractères au plus par champ.")
BAD_DAY = N_("Date invalide : utilisez le format jj/mm/aaaa.")


class QueryError(ValueError):
    """The form cannot be searched; the message (a French constant) says why."""


@dataclass(frozen=True)
class Query:
    text: str = ""
    sender: str = ""
    recipient: str = ""
    subject: str = ""
    body: str = ""
    since: date | None = None
    until: date | None = None  # inclusive: the user's "jusqu'au"
    unread: bool = False
    flagged: bool = False
    attachments: bool = False

    @property
    def empty(self) -> bool:
        """Nothing to look for: a field of spaces or control characters is no criterion
        (it must not become ``ALL``)."""
        values = [getattr(self, f.name) for f in fields(self)]
        return not any(clean(value) if isinstance(value, str) else value for value in values)


@dataclass(frozen=True)
class Criteria:
    arguments: list[str]
    utf8: bool
    # Words left out because the server cannot search in UTF-8 (they are not ASCII).
    dropped: tuple[str, ...] = ()


@dataclass
class FolderResult:
    folder: str
    uids: list[int]  # in the list's order, newest first


@dataclass
class Outcome:
    results: list[FolderResult] = field(default_factory=list)
    searched: int = 0
    folders: int = 0
    dropped: tuple[str, ...] = ()
    # Folders the server refused to search (deleted meanwhile, no right to read...).
    failed: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return self.searched < self.folders

    @property
    def total(self) -> int:
        return sum(len(result.uids) for result in self.results)


# Control characters (CR, LF, NUL...), lone surrogates and separators: spaces. Format
# characters stay: the zero-width joiner is part of emoji such as 👩‍⚕️.
_BLANKS = frozenset(("Cc", "Cs", "Zs", "Zl", "Zp"))


def clean(value: str) -> str:
    """One line of words: control characters become spaces, runs of spaces one."""
    kept = "".join(" " if unicodedata.category(c) in _BLANKS else c for c in value)
    return _SPACES.sub(" ", kept).strip()


def check_length(value: str) -> None:
    if len(value) > MAX_LENGTH:
        raise QueryError(TOO_LONG)


def parse_day(value: str) -> date | None:
    """A day from the form's date field (YYYY-MM-DD), or typed as jj/mm/aaaa."""
    value = value.strip()
    if not value:
        return None
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
    french = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
    if iso is not None:
        year, month, day = iso.groups()
    elif french is not None:
        day, month, year = french.groups()
    else:
        raise QueryError(BAD_DAY)
    try:
        found = date(int(year), int(month), int(day))
    except ValueError:
        raise QueryError(BAD_DAY) from None
    if not 1900 <= found.year <= 2999:
        raise QueryError(BAD_DAY)
    return found


def imap_day(day: date) -> str:
    """RFC 3501 date: ``1-Feb-2026``, English month names whatever the locale."""
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def string(value: str) -> str:
    """One search value, quoted: in UTF-8 when it is not ASCII (RFC 9051 allows it, with
    CHARSET UTF-8). Never a literal: aioimaplib refuses CR and LF in arguments, which also
    keeps any line break out of our commands."""
    return quote(value)


def criteria(query: Query, *, ascii_only: bool = False) -> Criteria:
    """The search keys of a query, every value quoted; ``ascii_only`` leaves out the words
    a server without UTF-8 search cannot take."""
    arguments: list[str] = []
    dropped: list[str] = []

    def words(value: str) -> list[str]:
        found = clean(value).split(" ") if clean(value) else []
        if ascii_only:
            dropped.extend(word for word in found if not word.isascii())
            found = [word for word in found if word.isascii()]
        return found[:MAX_WORDS]

    for word in words(query.text):
        value = string(word)
        keys = ["FROM", "TO", "CC", "SUBJECT", "BODY"]
        arguments += ["OR"] * (len(keys) - 1)
        # OR a OR b OR c d: each OR takes the next key and what follows.
        arguments += [part for key in keys for part in (key, value)]
    for name, key in TEXT_KEYS.items():
        for word in words(getattr(query, name)):
            arguments += [key, string(word)]
    if query.since is not None:
        arguments += ["SENTSINCE", imap_day(query.since)]
    if query.until is not None:
        arguments += ["SENTBEFORE", imap_day(query.until + timedelta(days=1))]
    if query.unread:
        arguments.append("UNSEEN")
    if query.flagged:
        arguments.append("FLAGGED")
    if query.attachments:
        # No IMAP key for "has attachments": the list's own rule (its paperclip), on the
        # server: a multipart/mixed or report, or a structured document (X-MSS-CODECDA).
        arguments += ["OR", "OR", "HEADER", "Content-Type", '"multipart/mixed"']
        arguments += [
            "HEADER",
            "Content-Type",
            '"multipart/report"',
            "HEADER",
            "X-MSS-CODECDA",
            '""',
        ]
    utf8 = any(not argument.isascii() for argument in arguments)
    return Criteria(arguments or ["ALL"], utf8=utf8, dropped=tuple(dict.fromkeys(dropped)))


async def search_folder(
    imap: ImapClient,
    cache: mailbox.MailboxCache,
    folder: str,
    query: Query,
    order: str = mailbox.BY_DATE,
) -> tuple[FolderResult, tuple[str, ...]]:
    """Matches in one folder in the list's order, and the words left out (BADCHARSET)."""
    ordered = await mailbox.sorted_folder(imap, cache, folder, order)  # selects it too
    found, dropped = await _matches(imap, query)
    matched = set(found)
    return FolderResult(folder, [uid for uid in ordered if uid in matched]), dropped


async def _matches(imap: ImapClient, query: Query) -> tuple[list[int], tuple[str, ...]]:
    wanted = criteria(query)
    try:
        return await imap.search(wanted.arguments, utf8=wanted.utf8), ()
    except ImapCommandFailed as error:
        if not wanted.utf8 or "BADCHARSET" not in error.text.upper():
            raise
    ascii_only = criteria(query, ascii_only=True)
    return await imap.search(ascii_only.arguments), ascii_only.dropped


async def search_folders(
    imap: ImapClient,
    cache: mailbox.MailboxCache,
    folders: Sequence[str],
    query: Query,
    order: str = mailbox.BY_DATE,
    *,
    budget: float = BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Each folder in turn on the session's one connection, until the budget is spent: a
    folder already started finishes (an IMAP command cannot be withdrawn), no new one starts."""
    outcome = Outcome(folders=len(folders))
    deadline = clock() + budget
    for folder in folders:
        if clock() >= deadline:
            break
        try:
            result, dropped = await search_folder(imap, cache, folder, query, order)
        except ImapCommandFailed:
            outcome.failed.append(folder)
        else:
            outcome.dropped = tuple(dict.fromkeys(outcome.dropped + dropped))
            if result.uids:
                outcome.results.append(result)
        outcome.searched += 1
    return outcome
