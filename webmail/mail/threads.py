"""Conversations: the messages of a folder grouped by thread, and quoted text told apart.

The server threads when it can (``UID THREAD REFERENCES``, RFC 5256). Otherwise the app does,
with RFC 5256's REFERENCES algorithm simplified: messages are linked by References (or
In-Reply-To), a missing parent still groups its children, and threads whose roots share a
base subject are merged only when one is a reply or forward and they are close in time, so
that two unrelated "Compte rendu" months apart stay apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from webmail.mail import mime
from webmail.mail.imap import ImapClient
from webmail.mail.imap_syntax import FetchItem, parse_lines

THREAD_HEADERS = "MESSAGE-ID IN-REPLY-TO REFERENCES SUBJECT DATE"
THREAD_ITEMS = f"(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS ({THREAD_HEADERS})])"
# Roots with the same base subject are one conversation only this close in time.
SUBJECT_WINDOW = timedelta(days=14)
# Without THREAD, the app threads at most this many of the newest messages.
APP_THREAD_LIMIT = 2000

# "Re:", "RE :", "Fwd:", "TR:" (French clients' transfer), "Réf.:", with "[tag]" blobs and
# counters like "Re[2]:"; repeated, in any order.
_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)*(?:re|fwd?|tr|réf\.?|ref|aw|wg|sv|vs)\s*(?:\[\d+\])?\s*:\s*",
    re.IGNORECASE,
)
_BLOB = re.compile(r"^\s*\[[^\]]*\]\s*")
_TRAILER = re.compile(r"\s*\((?:fwd|tr)\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ThreadHeaders:
    uid: int
    message_id: str | None
    parent_ids: tuple[str, ...]  # References, else In-Reply-To: oldest ancestor first
    subject: str
    date: datetime | None


def base_subject(subject: str) -> tuple[str, bool]:
    """The subject without reply and forward marks, folded; and whether it had any."""
    text = " ".join(subject.split())
    marked = False
    while True:
        before = text
        text, trailers = _TRAILER.subn("", text)
        text, prefixes = _PREFIX.subn("", text, count=1)
        marked = marked or bool(trailers or prefixes)
        if text != before:
            continue
        unblobbed = _BLOB.sub("", text, count=1)
        if not unblobbed or unblobbed == text:  # a subject that is only a blob keeps it
            return text.casefold(), marked
        text = unblobbed


@dataclass
class _Node:
    message_id: str
    message: ThreadHeaders | None = None
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)

    def is_ancestor_of(self, other: _Node) -> bool:
        node: _Node | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def messages(self) -> list[ThreadHeaders]:
        found = [self.message] if self.message is not None else []
        for child in self.children:
            found.extend(child.messages())
        return found


def thread(messages: Sequence[ThreadHeaders]) -> list[list[int]]:
    """The conversations of ``messages``: each a list of UIDs, oldest first; the
    conversations newest first (by their latest message)."""
    nodes: dict[str, _Node] = {}
    for message in messages:
        _place(nodes, message)
    roots = [node for node in nodes.values() if node.parent is None]
    groups = _merge_by_subject(roots)
    threads = [sorted(group, key=_when) for group in groups if group]
    threads.sort(key=lambda uids: _when(uids[-1]), reverse=True)
    return [[message.uid for message in group] for group in threads]


def _place(nodes: dict[str, _Node], message: ThreadHeaders) -> None:
    own_id = message.message_id
    if own_id is None or (own_id in nodes and nodes[own_id].message is not None):
        own_id = f"<uid-{message.uid}>"  # no or a duplicate Message-ID: a message of its own
    node = nodes.setdefault(own_id, _Node(own_id))
    node.message = message
    parent: _Node | None = None
    for reference in message.parent_ids:
        if reference == own_id:
            continue
        current = nodes.setdefault(reference, _Node(reference))
        if parent is not None and current.parent is None and not current.is_ancestor_of(parent):
            _link(parent, current)
        parent = current
    if parent is not None and not node.is_ancestor_of(parent):
        if node.parent is not None:
            node.parent.children.remove(node)
            node.parent = None
        _link(parent, node)


def _link(parent: _Node, child: _Node) -> None:
    child.parent = parent
    parent.children.append(child)


def _merge_by_subject(roots: list[_Node]) -> list[list[ThreadHeaders]]:
    """Roots in time order; one joins the previous conversation of its base subject when
    either is a reply or forward and they are within SUBJECT_WINDOW."""
    groups: list[list[ThreadHeaders]] = []
    latest: dict[str, tuple[int, datetime | None, bool]] = {}  # subject -> group, last, marked
    for root in sorted(roots, key=_first_date):
        found = root.messages()
        if not found:
            continue
        first = min(found, key=_when)
        subject, marked = base_subject(first.subject)
        previous = latest.get(subject)
        if subject and previous is not None and (marked or previous[2]):
            index, last, _ = previous
            if _close(last, first.date):
                groups[index].extend(found)
                latest[subject] = (index, _last_date(groups[index]), True)
                continue
        groups.append(found)
        latest[subject] = (len(groups) - 1, _last_date(found), marked)
    return groups


def _close(earlier: datetime | None, later: datetime | None) -> bool:
    if earlier is None or later is None:
        return False
    return abs(later - earlier) <= SUBJECT_WINDOW


def _when(message: ThreadHeaders) -> tuple[float, int]:
    return (message.date.timestamp() if message.date else 0.0, message.uid)


def _first_date(node: _Node) -> tuple[float, int]:
    found = node.messages()
    return min(_when(message) for message in found) if found else (0.0, 0)


def _last_date(messages: list[ThreadHeaders]) -> datetime | None:
    return max(messages, key=_when).date


# -- from the server ------------------------------------------------------------------------


async def conversations(imap: ImapClient, folder: str) -> list[list[int]]:
    """The folder's conversations (UID lists, oldest first), the newest conversation first."""
    await imap.ensure_selected(folder)
    if imap.has_capability("THREAD=REFERENCES"):
        return await server_threads(imap)
    uids = (await imap.sorted_uids())[:APP_THREAD_LIMIT]
    return thread(headers_of(await imap.fetch(uids, THREAD_ITEMS)))


async def server_threads(imap: ImapClient) -> list[list[int]]:
    """UID THREAD REFERENCES, each nested thread flattened; ordered as the app orders them."""
    lines = await imap.threads("REFERENCES")
    threads: list[list[int]] = []
    for response in parse_lines(lines):
        if response and response[0] == b"THREAD":
            threads.extend(_flatten(group) for group in response[1:] if isinstance(group, list))
    # The server's threads are ordered by their first message; newest conversation first,
    # by UID (arrival), as the list is.
    threads = [sorted(uids) for uids in threads if uids]
    threads.sort(key=lambda uids: uids[-1], reverse=True)
    return threads


def _flatten(value: object) -> list[int]:
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        return [uid for item in value for uid in _flatten(item)]
    return []


def headers_of(items: Sequence[FetchItem]) -> list[ThreadHeaders]:
    found = []
    for item in items:
        block = next(
            (value for key, value in item.data.items() if key.startswith("BODY[HEADER")), None
        )
        if item.uid is None or not isinstance(block, bytes):
            continue
        parsed = mime.parse_or_plain(block + b"\r\n")
        parents = tuple(parsed.references) or ((parsed.in_reply_to,) if parsed.in_reply_to else ())
        found.append(
            ThreadHeaders(item.uid, parsed.message_id, parents, parsed.subject, parsed.date)
        )
    return found


def conversation_of(threads: list[list[int]], uid: int) -> list[int]:
    """The conversation holding ``uid`` (the message alone when no conversation has it)."""
    return next((uids for uids in threads if uid in uids), [uid])


# -- quoted text ----------------------------------------------------------------------------

# "Le lun. 3 nov. 2026 à 10:00, Dr Martin <m@x> a écrit :" and "On ..., X wrote:", possibly
# wrapped over two lines by the sender's client.
_ATTRIBUTION_END = re.compile(r"(?:a\s+écrit|wrote)\s*:\s*$", re.IGNORECASE)
_ATTRIBUTION_START = re.compile(r"^\s*(?:le|on)\s", re.IGNORECASE)
# Outlook quotes without ">": everything from this line on is the original.
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(?:message d'origine|original message)\s*-{2,}\s*$", re.I)


@dataclass(frozen=True)
class TextBlock:
    text: str
    quoted: bool


def quoted_blocks(text: str) -> list[TextBlock]:
    """The text in blocks, quoted ones (">" lines with the attribution above them, or an
    Outlook original) apart, so that the page can fold them away."""
    lines = text.replace("\r\n", "\n").split("\n")
    quoted = [line.lstrip().startswith(">") for line in lines]
    for index, line in enumerate(lines):
        if _ORIGINAL.match(line):
            quoted[index:] = [True] * (len(lines) - index)
            break
    for index in range(len(lines)):
        if quoted[index] and (index == 0 or not quoted[index - 1]):
            _mark_attribution(lines, quoted, index)
    blocks: list[TextBlock] = []
    for line, is_quoted in zip(lines, quoted, strict=True):
        if blocks and blocks[-1].quoted == is_quoted:
            blocks[-1] = TextBlock(blocks[-1].text + "\n" + line, is_quoted)
        else:
            blocks.append(TextBlock(line, is_quoted))
    return [block for block in blocks if block.text.strip() or block.quoted]


def _mark_attribution(lines: list[str], quoted: list[bool], start: int) -> None:
    """Mark the attribution line(s) just above a quoted block (a blank line between allowed)."""
    above = start - 1
    if above >= 0 and not lines[above].strip():
        above -= 1
    if above < 0 or not _ATTRIBUTION_END.search(lines[above]):
        return
    first = above
    if not _ATTRIBUTION_START.match(lines[above]):
        if above == 0 or not _ATTRIBUTION_START.match(lines[above - 1]):
            return
        first = above - 1
    for index in range(first, start):
        quoted[index] = True
