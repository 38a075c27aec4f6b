"""Opening a message by its parts: BODYSTRUCTURE and the header, then only the texts shown.

A 3 MB PDF costs nothing until it is downloaded: the reader fetches ``BODY.PEEK[HEADER]`` and
``BODYSTRUCTURE`` (kept per UID: neither ever changes), then ``BODY.PEEK[n.MIME]`` and
``BODY.PEEK[n]`` of each text part. ``read`` returns None where the structure is not one this
path reads exactly as the whole-message parser would: the caller then reads that message whole.
"""

from __future__ import annotations

import asyncio
import email
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from email.message import Message

from webmail.mail import imap_syntax, mime, structure
from webmail.mail.imap import ImapClient
from webmail.mail.parts import POLICY, Attachment, decode_text, part_bytes
from webmail.mail.structure import Node, Unsupported

log = logging.getLogger(__name__)

# Decoding more than this runs in a thread, not on the event loop every user shares.
OFF_LOOP_BYTES = 64 * 1024
# Text parts larger than this are not fetched by parts: the whole-message path decides.
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Overview:
    """What never changes for a UID: its header block and its structure."""

    header: bytes
    root: Node


class Overviews:
    """Per IMAP login, the overviews of the messages opened last, bounded."""

    # About 3 KB each (a header block and its structure): 150 KB per session at most.
    SIZE = 50

    def __init__(self) -> None:
        self._held: OrderedDict[tuple[str, int, int], Overview] = OrderedDict()

    def get(self, key: tuple[str, int, int]) -> Overview | None:
        found = self._held.get(key)
        if found is not None:
            self._held.move_to_end(key)
        return found

    def put(self, key: tuple[str, int, int], overview: Overview) -> None:
        self._held[key] = overview
        self._held.move_to_end(key)
        while len(self._held) > self.SIZE:
            self._held.popitem(last=False)


async def overview(imap: ImapClient, overviews: Overviews, uid: int) -> Overview | None:
    """The header and structure of a message of the selected folder; None when it is gone.

    Raises ``Unsupported`` for a structure this module does not read."""
    selected = imap.selected
    key = (selected.name, selected.uidvalidity, uid) if selected is not None else None
    held = overviews.get(key) if key is not None else None
    if held is not None:
        return held
    items = await imap.fetch([uid], "(UID BODYSTRUCTURE BODY.PEEK[HEADER])")
    item = next((item for item in items if item.uid == uid), None)
    if item is None:
        return None
    header = item.data.get("BODY[HEADER]")
    if not isinstance(header, bytes):
        raise Unsupported("no header block")
    found = Overview(header, structure.parse(item.data.get("BODYSTRUCTURE")))
    if key is not None:
        overviews.put(key, found)
    return found


async def read(imap: ImapClient, overviews: Overviews, uid: int) -> mime.ParsedMessage | None:
    """The message as ``mime.parse_message`` shows it, fetched by parts; None to read it whole
    (the message is gone, or its structure is one only the whole-message parser reads)."""
    try:
        found = await overview(imap, overviews, uid)
        if found is None:
            return None
        planned = structure.plan(found.root)
        if sum(node.size for _kind, node in planned.bodies) > MAX_BODY_BYTES:
            return None
        sections = await fetch_sections(imap, uid, found, [node for _kind, node in planned.bodies])
    except (Unsupported, imap_syntax.ImapSyntaxError) as error:
        log.info("message read whole: %s", error)
        return None
    if sections is None:
        return None
    bodies = [(kind, *sections[node.part_id]) for kind, node in planned.bodies]
    try:
        if sum(len(body) for _kind, _head, body in bodies) > OFF_LOOP_BYTES:
            return await asyncio.to_thread(_assemble, found.header, bodies, planned)
        return _assemble(found.header, bodies, planned)
    except Exception as error:  # hostile mail breaks the stdlib in unlisted ways: read it whole
        log.warning("message read whole after %s", type(error).__name__)
        return None


def _assemble(
    header: bytes, bodies: list[tuple[str, bytes, bytes]], planned: structure.Plan
) -> mime.ParsedMessage:
    texts, htmls = _decode_bodies(bodies)
    headers = email.message_from_bytes(header, policy=POLICY)
    return mime.assemble(headers, texts, htmls, planned.attachments)


async def fetch_sections(
    imap: ImapClient, uid: int, found: Overview, nodes: list[Node]
) -> dict[str, tuple[bytes, bytes]] | None:
    """The MIME header and the (still encoded) body of each part, in one FETCH. A lone
    body's MIME header is the message's own header."""
    if not nodes:
        return {}
    wanted = " ".join(
        f"BODY.PEEK[{n.part_id}]"
        if n is found.root
        else f"BODY.PEEK[{n.part_id}.MIME] BODY.PEEK[{n.part_id}]"
        for n in nodes
    )
    items = await imap.fetch([uid], f"(UID {wanted})")
    item = next((item for item in items if item.uid == uid), None)
    if item is None:
        return None
    sections: dict[str, tuple[bytes, bytes]] = {}
    for node in nodes:
        head = item.data.get(f"BODY[{node.part_id}.MIME]")
        body = item.data.get(f"BODY[{node.part_id}]")
        if not isinstance(body, bytes):
            return None
        if node is found.root:
            head = found.header
        sections[node.part_id] = (head if isinstance(head, bytes) else b"", body)
    return sections


def section_message(mime_header: bytes, body: bytes) -> Message:
    """One part as the whole-message parser sees it: its MIME header, then its body."""
    head = mime_header.rstrip(b"\r\n") + b"\r\n\r\n"
    return email.message_from_bytes(head + body, policy=POLICY)


def _decode_bodies(bodies: list[tuple[str, bytes, bytes]]) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    htmls: list[str] = []
    for kind, head, body in bodies:
        (texts if kind == "text" else htmls).append(decode_text(section_message(head, body)))
    return texts, htmls


def decoded_part(head: bytes, body: bytes) -> bytes:
    return part_bytes(section_message(head, body))


_PART_ID = re.compile(r"\d{1,3}(\.\d{1,3}){0,19}")


async def locate(
    imap: ImapClient, overviews: Overviews, uid: int, part_id: str
) -> tuple[Overview, Node] | None:
    """The part with this id, as listed by ``read``; None when there is none or the structure
    is one this path does not read (the caller then reads the message whole)."""
    if not _PART_ID.fullmatch(part_id):
        return None
    try:
        found = await overview(imap, overviews, uid)
        if found is None:
            return None
        structure.plan(found.root)  # the same structures as the reading view, or none
    except (Unsupported, imap_syntax.ImapSyntaxError):
        return None
    node = found.root.find(part_id)
    return (found, node) if node is not None and not node.multipart else None


async def extract(
    imap: ImapClient, uid: int, found: Overview, node: Node
) -> tuple[Attachment, bytes] | None:
    """One part, described as listed and decoded (off the loop when big)."""
    sections = await fetch_sections(imap, uid, found, [node])
    if sections is None:
        return None
    head, body = sections[node.part_id]
    if len(body) > OFF_LOOP_BYTES:
        content = await asyncio.to_thread(decoded_part, head, body)
    else:
        content = decoded_part(head, body)
    return structure.describe(node), content
