"""Attachments and inline images handed to the browser: streamed by slices when the server
can, with headers that never let a file run in our origin."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from webmail.errors import NotFound
from webmail.mail import by_parts, structure
from webmail.mail.connections import ConnectionPool, MailSession
from webmail.mail.parts import Attachment
from webmail.mail.streaming import STREAMED_ENCODINGS, decoded_slices, fetch_slice
from webmail.views.common import (
    Authenticated,
    audit,
    authenticated,
    folder_param,
    services,
    uid_param,
)
from webmail.views.message import part_of
from webmail.views.shared_mailboxes import inside, selected

# Types a browser may render inline from our origin: images only, never HTML or SVG.
_INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


async def download_attachment(request: Request) -> Response:
    return await _part_response(request, inline=False)


async def inline_image(request: Request) -> Response:
    return await _part_response(request, inline=True)


@dataclass(frozen=True)
class RequestedPart:
    """The part a request names, described, and how to get it: as slices from the server
    (``node``) or, for the parts that cannot be streamed, already decoded (``content``)."""

    auth: Authenticated
    folder: str
    uid: int
    part_id: str
    described: Attachment
    node: structure.Node | None
    content: bytes | None

    def audit(self, request: Request, action: str) -> None:
        audit(request, action, self.auth, folder=self.folder, uid=self.uid, part=self.part_id)

    def stream(self, pool: ConnectionPool) -> AsyncGenerator[bytes, None]:
        assert self.node is not None
        return slices(pool, self.auth, self.folder, self.uid, self.node)


async def requested_part(request: Request) -> RequestedPart:
    """The part of ``folder``/``uid``/``part`` in the query, within the session's mailbox."""
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    part_id = request.query_params.get("part", "")
    async with services(request).pool.use(auth.key, auth.user, auth.password) as session:
        folder = await inside(session, folder)
        node = await streamable(session, folder, uid, part_id)
        found = None if node is not None else await part_of(session, folder, uid, part_id)
    if node is not None:
        return RequestedPart(auth, folder, uid, part_id, structure.describe(node), node, None)
    if found is None:
        raise NotFound("Cette pièce jointe n'existe pas.")
    return RequestedPart(auth, folder, uid, part_id, found[0], None, found[1])


async def _part_response(request: Request, *, inline: bool) -> Response:
    part = await requested_part(request)
    described = part.described
    if inline and described.content_type not in _INLINE_IMAGE_TYPES:
        raise NotFound("Cette image n'existe pas.")
    if not inline:
        part.audit(request, "attachment_download")
    headers = {
        "content-disposition": content_disposition(
            "inline" if inline else "attachment", described.filename
        ),
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
    }
    media_type = described.content_type if inline else download_type(described.content_type)
    if part.content is not None:
        return Response(part.content, media_type=media_type, headers=headers)
    return StreamingResponse(
        part.stream(services(request).pool), media_type=media_type, headers=headers
    )


async def streamable(
    session: MailSession, folder: str, uid: int, part_id: str
) -> structure.Node | None:
    """The part, when it is a file the server can hand over in slices and we can decode as
    they come; None for the others (attached messages, unusual encodings, odd structures)."""
    await selected(session, folder)
    located = await by_parts.locate(session.imap, session.cache.overviews, uid, part_id)
    if located is None:
        return None
    node = located[1]
    if node.content_type == "message/rfc822" or node.encoding not in STREAMED_ENCODINGS:
        return None
    return node


async def slices(
    pool: ConnectionPool, auth: Authenticated, folder: str, uid: int, node: structure.Node
) -> AsyncGenerator[bytes, None]:
    """The file, slice by slice: the connection is taken for each slice only, so that the
    user's other pages are not kept waiting by a slow download."""

    async def read_slice(offset: int, length: int) -> bytes | None:
        async with pool.use(auth.key, auth.user, auth.password) as session:
            await session.imap.ensure_selected(folder)
            return await fetch_slice(session.imap, uid, node.part_id, offset, length)

    async for data in decoded_slices(read_slice, node.encoding, node.size):
        yield data


def download_type(content_type: str) -> str:
    # Never hand the browser a type it would render in our origin.
    if content_type in (
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
    ) or content_type.startswith("multipart/"):
        return "application/octet-stream"
    return content_type


def content_disposition(disposition: str, filename: str) -> str:
    """The header naming a file sent: a plain ASCII name, and the real one per RFC 6266."""
    return (
        f'{disposition}; filename="{ascii_name(filename)}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}"
    )


def ascii_name(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return ascii_name.replace('"', "_").replace("\\", "_")
