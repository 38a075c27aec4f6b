"""The compose form's attachments: new uploads, and the files kept on the server (the
forwarded original's, the draft's) that the form lists with a checkbox each and that are
read again from there at each send."""

from __future__ import annotations

import re

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from webmail import i18n
from webmail.mail import drafts, mailboxes
from webmail.mail.compose import Draft, Upload
from webmail.mail.connections import MailSession
from webmail.views.common import services, text_field
from webmail.views.compose_form import SOURCES, Kept, Origin, Outcome
from webmail.views.message import fetch_raw

_DIGEST = re.compile(r"[0-9a-f]{32}")


class KeptFilesMissing(Exception):
    """Files the form says to keep are no longer where they were kept."""


async def read_uploads(form: FormData) -> list[Upload]:
    uploads = []
    for value in form.getlist("attachments"):
        if isinstance(value, UploadFile) and value.filename:
            data = await value.read()
            uploads.append(
                Upload(value.filename, value.content_type or "application/octet-stream", data)
            )
    return uploads


def kept_from_form(form: FormData, origin: Origin) -> Kept:
    source = text_field(form, "kept_source")
    if source not in SOURCES or (source == "origin" and origin.uid is None):
        return Kept()
    chosen = {
        value
        for value in form.getlist("keep")
        if isinstance(value, str) and _DIGEST.fullmatch(value)
    }
    return Kept(source=source, chosen=chosen)


async def kept_uploads(
    session: MailSession, origin: Origin, draft: Draft, kept: Kept
) -> list[Upload]:
    """The files ticked on the form, read again from where they were kept."""
    if not kept.chosen and not kept.everything:
        return []
    raw = await _kept_source(session, origin, draft, kept.source)
    found = drafts.kept_files(raw) if raw is not None else []
    uploads = {described.digest: upload for described, upload in found}
    if kept.everything:
        kept.chosen = set(uploads)
    if not kept.chosen <= uploads.keys():
        raise KeptFilesMissing
    kept.files = [described for described, _upload in found]
    chosen = [d for d in dict.fromkeys(f.digest for f in kept.files) if d in kept.chosen]
    kept.attached = len(chosen)
    return [uploads[d] for d in chosen]


async def _kept_source(
    session: MailSession, origin: Origin, draft: Draft, source: str
) -> bytes | None:
    if source == "origin" and origin.uid is not None:
        return await fetch_raw(session, origin.folder, origin.uid)
    folder = await mailboxes.role_folder(session, "drafts")
    return await drafts.latest(session.imap, folder, draft.message_id)


def too_big(request: Request, uploads: list[Upload]) -> bool:
    return sum(len(u.data) for u in uploads) > services(request).settings.max_upload_bytes


def too_big_outcome(request: Request) -> Outcome:
    limit = services(request).settings.max_upload_bytes // (1024 * 1024)
    return Outcome(
        status=413,
        files_lost=True,
        error=i18n._(
            "Les pièces jointes dépassent {limit} Mo : ajoutez-les de nouveau, moins lourdes."
        ).format(limit=limit),
    )
