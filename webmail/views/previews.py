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

from webmail.errors import WebmailError
from webmail.i18n import N_
from webmail.mail.parts import Attachment
from webmail.mail.previews import SNIFF_BYTES, previewable, sniffed
from webmail.views.attachments import content_disposition, requested_part
from webmail.views.common import services

PREVIEW_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "object-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
NOT_PREVIEWABLE = N_(
    "Ce fichier ne peut pas être affiché ici : son contenu ne correspond pas à son type. "
    "Téléchargez-le et ouvrez-le avec un logiciel adapté si vous connaissez l'expéditeur."
)


async def preview(request: Request) -> Response:
    part = await requested_part(request)
    if not previewable(part.described):
        raise _refused()
    if part.content is not None:
        answer = _answer(part.described, part.content, sniffed(part.content[:SNIFF_BYTES]))
        part.audit(request, "attachment_preview")
        return answer
    content = part.stream(services(request).pool)
    first = await anext(content, b"")
    kind = sniffed(first[:SNIFF_BYTES])
    if kind is None:
        await content.aclose()
        raise _refused()
    part.audit(request, "attachment_preview")
    return StreamingResponse(
        _then(first, content), media_type=kind, headers=_headers(part.described.filename)
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
