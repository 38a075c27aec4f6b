"""What IMAP answers, as values: folders (LIST and LIST-STATUS), the selected mailbox's state,
and UID sets both ways."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from webmail.mail import imap_syntax as syntax


@dataclass(frozen=True)
class Folder:
    name: str  # the server's name, decoded from modified UTF-7
    delimiter: str | None
    flags: frozenset[str]
    messages: int | None = None
    unseen: int | None = None

    @property
    def special_use(self) -> str | None:
        for flag in ("\\Sent", "\\Drafts", "\\Trash", "\\Archive", "\\Junk", "\\All", "\\Flagged"):
            if flag.lower() in {f.lower() for f in self.flags}:
                return flag
        return None

    @property
    def selectable(self) -> bool:
        return "\\noselect" not in {f.lower() for f in self.flags} and (
            "\\nonexistent" not in {f.lower() for f in self.flags}
        )


@dataclass(frozen=True)
class MailboxState:
    """What SELECT tells: enough to know whether cached UIDs and envelopes are still valid."""

    name: str
    uidvalidity: int
    uidnext: int
    exists: int
    highestmodseq: int | None

    @property
    def cache_key(self) -> tuple[int, int, int, int | None]:
        return (self.uidvalidity, self.uidnext, self.exists, self.highestmodseq)


def uid_set(uids: Sequence[int]) -> str:
    """``1:4,7,9:10``: runs of consecutive UIDs as ranges, so a whole folder fits a line."""
    ordered = sorted({int(uid) for uid in uids})
    runs: list[str] = []
    start = previous = ordered[0] if ordered else 0
    for uid in [*ordered[1:], 0]:  # 0 ends the last run
        if uid == previous + 1:
            previous = uid
            continue
        runs.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = uid
    return ",".join(runs)


def expand_uid_set(text: bytes) -> list[int]:
    """``4,7:9`` as [4, 7, 8, 9], in the order given (COPYUID pairs them by position)."""
    uids: list[int] = []
    for part in text.split(b","):
        low, _, high = part.partition(b":")
        if not low.isdigit() or (high and not high.isdigit()):
            return []
        first, last = int(low), int(high or low)
        step = 1 if last >= first else -1
        uids.extend(range(first, last + step, step))
    return uids


def status_pairs(values: list[syntax.Value]) -> dict[str, int]:
    out: dict[str, int] = {}
    for index in range(0, len(values) - 1, 2):
        key, value = values[index], values[index + 1]
        if isinstance(key, bytes) and isinstance(value, int):
            out[key.decode().upper()] = value
    return out


def parse_list(lines: Sequence[bytes | bytearray]) -> list[Folder]:
    folders: dict[str, Folder] = {}
    counts: dict[str, dict[str, int]] = {}
    for response in syntax.parse_lines(lines):
        if not response or not isinstance(response[0], bytes):
            continue
        kind = response[0].upper()
        if kind == b"LIST" and len(response) >= 4 and isinstance(response[1], list):
            flags = frozenset(syntax.as_text(flag) for flag in response[1])
            delimiter = response[2]
            name = syntax.decode_mailbox(syntax.as_text(response[3]))
            folders[name] = Folder(
                name=name,
                delimiter=delimiter.decode() if isinstance(delimiter, bytes) else None,
                flags=flags,
            )
        elif kind == b"STATUS" and len(response) >= 3 and isinstance(response[-1], list):
            name = syntax.decode_mailbox(syntax.as_text(response[1]))
            counts[name] = status_pairs(response[-1])
    return [
        Folder(
            name=folder.name,
            delimiter=folder.delimiter,
            flags=folder.flags,
            messages=counts.get(folder.name, {}).get("MESSAGES"),
            unseen=counts.get(folder.name, {}).get("UNSEEN"),
        )
        for folder in folders.values()
    ]
