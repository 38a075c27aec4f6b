"""Structured documents (IHE XDM) in the reader: the list, a CDA rendered, a PDF previewed.

The archive is read again from the message at each request (the webmail keeps no mail), off
the event loop. A CDA page is served alone with the same policy as a mail's HTML frame; a PDF
is handed to the browser's own viewer, sandboxed; every document can be downloaded as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from webmail import i18n
from webmail.errors import NotFound, WebmailError
from webmail.i18n import N_
from webmail.mail import mime
from webmail.mail.sanitize import frame_csp
from webmail.templating import render
from webmail.trust import cda, offload
from webmail.trust.xdm import Archive, Document, is_xdm_attachment, read_archive
from webmail.trust.zipsafe import ArchiveRefused
from webmail.urls import message_url
from webmail.views.attachments import content_disposition, download_type
from webmail.views.common import audit, authenticated, folder_param, services, uid_param
from webmail.views.message import part_of
from webmail.views.shared_mailboxes import inside

log = logging.getLogger(__name__)

UNREADABLE = N_("archive illisible")


@dataclass(frozen=True)
class StructuredBlock:
    """One IHE_XDM.ZIP of a message: its documents, or why it could not be opened."""

    part_id: str
    archive: Archive | None
    reason: str = ""  # a French constant, translated where shown


PartSource = Callable[[str], Awaitable[tuple[mime.Attachment, bytes] | None]]


async def structured_blocks(message: mime.ParsedMessage, part: PartSource) -> list[StructuredBlock]:
    """The message's XDM archives, read; a bad one says why, and never stops the message.
    ``part`` fetches one part of the message: the archive alone, not the whole message."""
    blocks = []
    for attachment in message.attachments:
        if not is_xdm_attachment(attachment.filename, attachment.content_type):
            continue
        try:
            archive = await _read(part, attachment.part_id)
            blocks.append(StructuredBlock(attachment.part_id, archive))
        except NotFound:
            blocks.append(StructuredBlock(attachment.part_id, None, UNREADABLE))
        except ArchiveRefused as refused:
            blocks.append(StructuredBlock(attachment.part_id, None, refused.reason))
    return blocks


async def _read(part: PartSource, part_id: str) -> Archive:
    found = await part(part_id)
    if found is None or not is_xdm_attachment(found[0].filename, found[0].content_type):
        raise NotFound("Ce document structuré n'existe pas.")
    try:
        return await offload.run(read_archive, found[1])
    except ArchiveRefused:
        raise
    except Exception as error:  # the stdlib's zip and XML code can fail in unlisted ways
        log.warning("XDM archive unreadable: %s", type(error).__name__)
        raise ArchiveRefused(UNREADABLE) from error


@dataclass(frozen=True)
class Located:
    folder: str
    uid: int
    part_id: str
    document: Document
    content: bytes


async def _locate(request: Request, action: str) -> Located:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    part_id = request.query_params.get("part", "")[:100]
    number = request.query_params.get("doc", "")
    app = services(request)
    try:
        async with app.pool.use(auth.key, auth.user, auth.password) as session:
            folder = await inside(session, folder)  # within the mailbox the session is on
            archive = await _read(lambda part: part_of(session, folder, uid, part), part_id)
    except ArchiveRefused as refused:
        raise WebmailError(
            i18n._("Ce document structuré ne peut pas être ouvert : {reason}.").format(
                reason=i18n._(refused.reason)
            ),
            status=422,
            title=N_("Document illisible"),
        ) from None
    document = next((d for d in archive.documents if str(d.number) == number), None)
    if document is None or document.number not in archive.contents:
        raise NotFound("Ce document n'existe pas dans l'archive.")
    audit(request, action, auth, folder=folder, uid=uid, part=part_id, doc=document.number)
    return Located(folder, uid, part_id, document, archive.contents[document.number])


async def show_document(request: Request) -> Response:
    """A CDA: its header in the app's page, its narrative in a sandboxed frame below."""
    found = await _locate(request, "document_read")
    rendered = await _rendered(found)
    params = {"folder": found.folder, "uid": found.uid, "part": found.part_id}
    return render(
        request,
        "pages/document.html",
        {
            "cda": rendered,
            "document": found.document,
            "back_url": message_url(found.folder, found.uid),
            "file_params": {**params, "doc": found.document.number},
            "folder": None,
        },
    )


async def document_frame(request: Request) -> Response:
    """The CDA's narrative, sanitised, served alone with the policy of a mail's HTML frame."""
    found = await _locate(request, "document_read")
    rendered = await _rendered(found)
    body = await offload.run(cda.narrative, rendered)
    page = render(request, "pages/mail_frame.html", {"body": body})
    page.headers["content-security-policy"] = frame_csp(allow_remote_images=False)
    page.headers["x-frame-options"] = "SAMEORIGIN"
    return page


async def _rendered(found: Located) -> cda.CdaDocument:
    if not found.document.is_cda:
        raise NotFound("Ce document n'est pas un document CDA.")
    try:
        return await offload.run(cda.render, found.content)
    except ArchiveRefused as refused:
        raise WebmailError(
            i18n._("Ce document ne peut pas être affiché : {reason}.").format(
                reason=i18n._(refused.reason)
            ),
            status=422,
            title=N_("Document illisible"),
        ) from None


async def document_file(request: Request) -> Response:
    """A document as it is in the archive: downloaded, or a PDF previewed."""
    preview = request.query_params.get("preview") == "1"
    embedded = request.query_params.get("embedded") == "1"
    found = await _locate(request, "document_preview" if preview else "document_download")
    content, content_type = found.content, found.document.mime_type
    filename = found.document.filename
    if embedded:
        # The PDF inside a non-structured CDA: extracted on the server, shown like the others.
        inner = await offload.run(_embedded, content)
        if inner is None:
            raise NotFound("Ce document n'a pas de contenu joint.")
        content, content_type = inner
        filename = filename.rsplit(".", 1)[0] + ".pdf"
    if preview and content_type != "application/pdf":
        raise NotFound("Seuls les PDF peuvent être prévisualisés.")
    disposition = "inline" if preview else "attachment"
    return Response(
        content,
        media_type="application/pdf" if preview else download_type(content_type),
        headers={
            "content-disposition": content_disposition(disposition, filename),
            "x-content-type-options": "nosniff",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )


def _embedded(content: bytes) -> tuple[bytes, str] | None:
    try:
        rendered = cda.render(content)
    except ArchiveRefused:
        return None
    if rendered.embedded_type != "application/pdf" or not rendered.embedded:
        return None
    return rendered.embedded, rendered.embedded_type
