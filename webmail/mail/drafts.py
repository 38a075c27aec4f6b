"""One draft per message being written, found by its stable Message-ID.

Every save appends the new copy, then removes the older ones, and only them (see
``ImapClient.expunge_uids``); a message sent is removed from Drafts. The draft is also where
the form's attachments live between two attempts: the browser cannot be handed files back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from webmail.mail import imap_syntax as syntax
from webmail.mail import mime
from webmail.mail.compose import Upload
from webmail.mail.imap import ImapClient

DRAFT_FLAGS = ("\\Draft", "\\Seen")
# On a draft whose sending may already have reached the recipients.
OUTCOME_UNKNOWN = "$MSSOutcomeUnknown"


@dataclass(frozen=True)
class KeptFile:
    """An attachment of a stored copy, named by a digest of its content: part numbers change
    each time the draft is saved again, the content does not."""

    digest: str
    filename: str
    content_type: str
    size: int


async def find(imap: ImapClient, folder: str, message_id: str) -> list[int]:
    """UIDs of the messages of ``folder`` carrying this Message-ID."""
    if not message_id or any(c in message_id for c in '\r\n\x00"\\'):
        return []
    await imap.select(folder)  # a fresh view: another request may just have saved it
    uids = await imap.sorted_uids("HEADER", "Message-ID", syntax.quote(message_id))
    return sorted(uids)


async def replace(
    imap: ImapClient,
    folder: str,
    message_id: str,
    raw: bytes,
    flags: Sequence[str] = DRAFT_FLAGS,
) -> None:
    """Store ``raw`` as the one draft of this message: the new copy first, so a failure in
    between leaves two copies rather than none; then every copy but the newest. Two
    requests saving at once each keep only the highest UID they see: one copy remains."""
    await imap.append(folder, raw, list(flags))
    copies = await find(imap, folder, message_id)
    await _remove(imap, folder, copies[:-1])


async def remove(imap: ImapClient, folder: str, message_id: str) -> None:
    await _remove(imap, folder, await find(imap, folder, message_id))


async def _remove(imap: ImapClient, folder: str, uids: list[int]) -> None:
    if not uids:
        return
    await imap.ensure_selected(folder)
    await imap.store_flags(uids, ["\\Deleted"], add=True)
    await imap.expunge_uids(uids)


async def latest(imap: ImapClient, folder: str, message_id: str) -> bytes | None:
    """The newest stored copy of this message in ``folder``."""
    uids = await find(imap, folder, message_id)
    return await imap.fetch_message(uids[-1]) if uids else None


def kept_files(raw: bytes) -> list[tuple[KeptFile, Upload]]:
    """The attachments of a stored copy, described and with their content."""
    found = []
    for attachment in mime.parse_or_plain(raw).attachments:
        content = mime.part_content(raw, attachment.part_id)
        if content is None:
            continue
        described = KeptFile(
            digest=digest(content),
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=len(content),
        )
        found.append((described, Upload(attachment.filename, attachment.content_type, content)))
    return found


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:32]
