"""Previews of PDF and image attachments, in the browser, without a download.

A preview is served from our origin, so what it holds must never be able to run there: the
type is the one its bytes show among an allow-list (``mail/previews.py``), an HTML page
labelled ``application/pdf`` is refused. The answer is sandboxed by its own CSP (Chromium's
PDF viewer works under ``sandbox``; the preview opens in a tab of its own), ``nosniff``, never
cached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from webmail.errors import NotFound, WebmailError
from webmail.i18n import N_
from webmail.mail import structure
from webmail.mail.parts import Attachment
from webmail.mail.previews import SNIFF_BYTES, previewable, sniffed
from webmail.views.attachments import content_disposition, slices, streamable
from webmail.views.common import audit, authenticated, folder_param, services, uid_param
from webmail.views.message import part_of
from webmail.views.shared_mailboxes import inside

PREVIEW_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "object-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
NOT_PREVIEWABLE = N_(
    "Ce fichier ne peut pas être affiché ici : son contenu ne correspond pas à son type. "
    "Téléchargez-le et ouvrez-le avec un logiciel adapté si vous connaissez l'expéditeur."
)


async def preview(request: Request) -> Response:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    part_id = request.query_params.get("part", "")
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        folder = await inside(session, folder)
        located = await streamable(session, folder, uid, part_id)
        found = None if located is not None else await part_of(session, folder, uid, part_id)
    if located is not None:
        described = structure.describe(located)
    elif found is not None:
        described = found[0]
    else:
        raise NotFound("Cette pièce jointe n'existe pas.")
    if not previewable(described):
        raise _refused()
    if found is not None:
        answer = _answer(described, found[1], sniffed(found[1][:SNIFF_BYTES]))
        audit(request, "attachment_preview", auth, folder=folder, uid=uid, part=part_id)
        return answer
    assert located is not None
    content = slices(app.pool, auth, folder, uid, located)
    first = await anext(content, b"")
    kind = sniffed(first[:SNIFF_BYTES])
    if kind is None:
        await content.aclose()
        raise _refused()
    audit(request, "attachment_preview", auth, folder=folder, uid=uid, part=part_id)
    return StreamingResponse(
        _then(first, content), media_type=kind, headers=_headers(described.filename)
    )


def _answer(described: Attachment, content: bytes, kind: str | None) -> Response:
    if kind is None:
        raise _refused()
    return Response(content, media_type=kind, headers=_headers(described.filename))


def _refused() -> WebmailError:
    return WebmailError(NOT_PREVIEWABLE, status=415, title=N_("Aperçu impossible"))


def _headers(filename: str) -> dict[str, str]:
    return {
        "content-disposition": content_disposition("inline", filename),
        "x-content-type-options": "nosniff",
        "content-security-policy": PREVIEW_CSP,
        "cache-control": "no-store",
        "cross-origin-resource-policy": "same-origin",
    }


async def _then(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for data in rest:
        yield data
