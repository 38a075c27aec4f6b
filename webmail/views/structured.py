"""Compose: "joindre comme document structuré", the PDFs wrapped in an IHE_XDM.ZIP.

The section of the compose form takes the patient's identity, the document type and one or
more PDFs. When it is filled, the archive is built (``trust/xdm_build.py``) and attached; the
MSSanté subject is set when the user typed none, and the ``X-MSS-*`` headers are read from the
archive as it will travel, so an archive kept from an earlier attempt gets them too. A
mistake (no name, a file that is not a PDF, an INS whose key is wrong) gives the form back
with everything typed, and the PDFs kept in the Drafts copy of the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from webmail import i18n
from webmail.i18n import N_
from webmail.mail import drafts
from webmail.mail.compose import Draft, Upload
from webmail.mail.connections import MailSession
from webmail.mail.drafts import KeptFile
from webmail.mail.imap import ImapError
from webmail.trust import ins, offload, xdm_build
from webmail.trust.xdm import ARCHIVE_NAME, is_xdm_attachment, read_archive
from webmail.trust.xdm_build import DOCUMENT_TYPES, Author, Identity, Pdf
from webmail.views.common import services, text_field
from webmail.views.compose import (
    Kept,
    Origin,
    Outcome,
    form_page,
    role_folder,
    save_draft,
)

SEXES = {"F": N_("Féminin"), "M": N_("Masculin"), "U": N_("Inconnu")}
INS_KINDS = {"NIR": N_("NIR (INS qualifiée)"), "NIA": N_("NIA (INS qualifiée)"),
             "test": N_("Identité de test")}  # fmt: skip
_DIGEST_LENGTH = 32


@dataclass
class StructuredForm:
    """The section as typed, shown again as it was; PDFs kept in Drafts listed by digest."""

    family: str = ""
    given: str = ""
    birth: str = ""
    sex: str = ""
    ins: str = ""
    ins_kind: str = "NIR"
    doc_type: str = "11490-0"
    with_cda: bool = True
    kept: list[KeptFile] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def filled(self) -> bool:
        return any((self.family, self.given, self.birth, self.ins, self.kept))

    types = DOCUMENT_TYPES
    sexes = SEXES
    ins_kinds = INS_KINDS


def form_state(request: Request) -> StructuredForm:
    """What the compose page's section shows: as typed after a failed attempt, else empty."""
    state = getattr(request.state, "structured", None)
    return state if isinstance(state, StructuredForm) else StructuredForm()


async def attach(
    request: Request,
    session: MailSession,
    form: FormData,
    draft: Draft,
    origin: Origin,
    kept: Kept,
) -> Response | None:
    """Adds the archive to ``draft`` when the section is filled; the form again (400) when
    it is filled wrongly. Always sets the X-MSS-* headers of an archive the draft carries."""
    typed = _typed(form)
    new_pdfs = await _uploaded_pdfs(form)
    kept_digests = _kept_digests(form)
    if new_pdfs or kept_digests or typed.filled:
        kept_pdfs = await _kept_pdfs(session, draft, kept_digests)
        pdfs = (kept_pdfs or []) + new_pdfs
        identity, kind, errors = _validated(typed, pdfs)
        if kept_pdfs is None:
            errors.append(
                i18n._("Les PDF conservés n'ont plus été retrouvés : ajoutez-les de nouveau.")
            )
        if errors or identity is None or kind is None:
            return await _give_back(request, session, draft, origin, kept, typed, pdfs, errors)
        author = Author(getattr(request.state, "identity", "") or "", draft.sender)
        archive = await offload.run(
            xdm_build.build, identity, kind, [Pdf(u.filename, u.data) for u in pdfs], author,
            with_cda=typed.with_cda,
        )  # fmt: skip
        limit = services(request).settings.max_upload_bytes
        if sum(len(u.data) for u in draft.attachments) + len(archive) > limit:
            # Each CDA carries its PDF again: say so, rather than losing the identity typed.
            error = i18n._(
                "Le document structuré dépasse {limit} Mo avec les autres pièces jointes : "
                "décochez l'ajout des documents CDA ou joignez des PDF moins lourds."
            ).format(limit=limit // (1024 * 1024))
            return await _give_back(request, session, draft, origin, kept, typed, pdfs, [error])
        draft.attachments.append(Upload(ARCHIVE_NAME, "application/zip", archive))
        if not draft.subject.strip():
            draft.subject = xdm_build.subject(identity, kind)
    await _set_headers(draft)
    return None


# What the user types in the section: given back with the rest of the form whatever fails.
TYPED_FIELDS = (
    "xdm_family",
    "xdm_given",
    "xdm_birth",
    "xdm_sex",
    "xdm_ins",
    "xdm_ins_kind",
    "xdm_type",
    "xdm_cda",
)


def _typed(form: FormData) -> StructuredForm:
    return StructuredForm(
        family=text_field(form, "xdm_family", limit=100).strip(),
        given=text_field(form, "xdm_given", limit=100).strip(),
        birth=text_field(form, "xdm_birth", limit=20).strip(),
        sex=text_field(form, "xdm_sex", limit=1),
        ins=text_field(form, "xdm_ins", limit=40).strip(),
        ins_kind=text_field(form, "xdm_ins_kind", "NIR", limit=10),
        doc_type=text_field(form, "xdm_type", limit=20),
        with_cda=text_field(form, "xdm_cda") == "1",
    )


async def _uploaded_pdfs(form: FormData) -> list[Upload]:
    found = []
    for value in form.getlist("xdm_pdfs"):
        if isinstance(value, UploadFile) and value.filename:
            data = await value.read()
            found.append(Upload(value.filename, value.content_type or "application/pdf", data))
    return found


def _kept_digests(form: FormData) -> list[str]:
    values = [v for v in form.getlist("xdm_keep") if isinstance(v, str)]
    return list(dict.fromkeys(v for v in values if len(v) == _DIGEST_LENGTH and v.isalnum()))


async def _kept_pdfs(session: MailSession, draft: Draft, digests: list[str]) -> list[Upload] | None:
    """The PDFs kept in Drafts by an earlier attempt; None when some are gone."""
    if not digests:
        return []
    try:
        folder = await role_folder(session, "drafts")
        raw = await drafts.latest(session.imap, folder, draft.message_id)
    except ImapError:
        return None
    found = {d.digest: upload for d, upload in drafts.kept_files(raw)} if raw else {}
    if not set(digests) <= found.keys():
        return None
    return [found[d] for d in digests]


def _validated(
    typed: StructuredForm, pdfs: list[Upload]
) -> tuple[Identity | None, xdm_build.DocumentType | None, list[str]]:
    errors = []
    if not typed.family:
        errors.append(i18n._("Indiquez le nom de naissance du patient."))
    if not typed.given:
        errors.append(i18n._("Indiquez le prénom du patient."))
    birth = _birth_date(typed.birth)
    if birth is None:
        errors.append(i18n._("Indiquez une date de naissance valide (jj/mm/aaaa)."))
    if typed.sex not in SEXES:
        errors.append(i18n._("Indiquez le sexe du patient."))
    number = ins.normalise(typed.ins)
    if typed.ins_kind not in ins.KIND_OIDS or not ins.valid_number(number):
        errors.append(
            i18n._(
                "Le matricule INS doit compter 15 caractères, clé comprise, et sa clé doit être "
                "juste : recopiez-le depuis l'identité INS du dossier du patient."
            )
        )
    kind = DOCUMENT_TYPES.get(typed.doc_type)
    if kind is None:
        errors.append(i18n._("Choisissez le type de document."))
    if not pdfs:
        errors.append(i18n._("Choisissez au moins un PDF à joindre comme document structuré."))
    for pdf in pdfs:
        if not _is_pdf(pdf):
            errors.append(
                i18n._("« {name} » n'est pas un PDF : seuls des PDF peuvent être joints comme "
                       "document structuré.").format(name=pdf.filename)
            )  # fmt: skip
    if errors or birth is None:
        return None, kind, errors
    identity = Identity(typed.family, typed.given, birth, typed.sex, number, typed.ins_kind)
    return identity, kind, errors


def _birth_date(text: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            value = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return value if date(1880, 1, 1) <= value <= date.today() else None
    return None


def _is_pdf(upload: Upload) -> bool:
    return upload.data.startswith(b"%PDF-")


async def _give_back(
    request: Request,
    session: MailSession,
    draft: Draft,
    origin: Origin,
    kept: Kept,
    typed: StructuredForm,
    pdfs: list[Upload],
    errors: list[str],
) -> Response:
    """The form with the section as typed; the PDFs kept in the Drafts copy, listed in the
    section (not with the ordinary attachments) so the next attempt wraps them again."""
    saved = await save_draft(session, replace(draft, attachments=[*draft.attachments, *pdfs]))
    outcome = Outcome(status=400, error=i18n._(
        "Le document structuré n'a pas pu être préparé : rien n'a été envoyé. Corrigez les "
        "points ci-dessous."
    ))  # fmt: skip
    typed.errors = errors
    if saved is None:
        outcome.files_lost = bool(pdfs) or bool(draft.attachments)
        request.state.structured = typed
        return form_page(request, draft, origin, kept, outcome)
    structured = {drafts.digest(pdf.data) for pdf in pdfs}
    typed.kept = [f for f in saved.files if f.digest in structured]
    others = [f for f in saved.files if f.digest not in structured]
    request.state.structured = typed
    regular = Kept(source="draft", files=others, chosen={f.digest for f in others})
    return form_page(request, draft, origin, regular, outcome)


async def _set_headers(draft: Draft) -> None:
    """X-MSS-INS and X-MSS-CODECDA from the archive the message carries, if any."""
    for upload in draft.attachments:
        if is_xdm_attachment(upload.filename, upload.content_type):
            try:
                archive = await offload.run(read_archive, upload.data)
            except Exception:  # a kept archive we cannot read: sent as a plain file
                return
            draft.headers.update(xdm_build.mss_headers(archive))
            return
