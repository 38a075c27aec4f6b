"""Building an ``IHE_XDM.ZIP`` around PDFs: the MSSanté way to send a document for a patient.

The archive (IHE ITI TF-3, 3.32) holds ``INDEX.HTM`` and ``README.TXT`` at its root and
``IHE_XDM/SUBSET01/`` with ``METADATA.XML`` (an ebRIM ``SubmitObjectsRequest``: one
``RegistryPackage`` for the submission set, one ``ExtrinsicObject`` per document, associated
by ``HasMember``) and the documents. For each PDF, a CDA R2 "non structuré" (a ``nonXMLBody``
embedding the PDF, as the CI-SIS allows) can be added, so that practice software that files
CDA documents only can file it too.
"""

from __future__ import annotations

import hashlib
import html
import xml.etree.ElementTree as ET  # writing only: nothing is parsed here
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO

from webmail.mail.mime import XDM_PREFIX
from webmail.trust import cda, hl7, ins
from webmail.trust.cda_build import cda_document
from webmail.trust.submission import (
    DOCUMENT_TYPES,
    LOINC,
    Author,
    DocumentType,
    Identity,
    Pdf,
    new_oid,
)
from webmail.trust.xdm import (
    AUTHOR_SCHEME,
    PATIENT_ID_SCHEME,
    SUBMISSION_AUTHOR_SCHEME,
    TYPE_CODE_SCHEME,
    UNIQUE_ID_SCHEME,
    Archive,
)

__all__ = ["DOCUMENT_TYPES", "Author", "DocumentType", "Identity", "Pdf", "build", "subject"]

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
SUBSET = "IHE_XDM/SUBSET01"
# Prefixes written instead of ns0, ns1: what the receiving software's eyes expect.
ET.register_namespace("lcm", LCM)
ET.register_namespace("rim", RIM)

_DOCUMENT_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
_SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
_FORMAT_SCHEME = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
_SUBMISSION_UID_SCHEME = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
_SOURCE_ID_SCHEME = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
_SUBMISSION_PID_SCHEME = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
_CONTENT_TYPE_SCHEME = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
_FORMAT_CODES = {
    "text/xml": "urn:ihe:iti:xds-sd:pdf:2008",  # a CDA wrapping a PDF (XDS-SD)
    "application/pdf": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
}


@dataclass(frozen=True)
class _Entry:
    uri: str
    mime_type: str
    data: bytes
    title: str


def subject(patient: Identity, kind: DocumentType) -> str:
    """ "XDM/1.0/DDM+Lettre de liaison DUPONT Jeanne 02/03/1950", as MSSanté clients expect."""
    return (
        f"{XDM_PREFIX}{kind.label} {hl7.clean(patient.family).upper()} "
        f"{hl7.clean(patient.given)} {patient.birth_date:%d/%m/%Y}"
    )


def mss_headers(archive: Archive) -> dict[str, str]:
    """X-MSS-INS (a qualified INS inside: O or N) and X-MSS-CODECDA (the code in the header
    of each CDA document, comma-separated), read from the archive as it will travel. The
    référentiel asks X-MSS-INS of a message with a CDA; it is set for any XDM archive, and
    X-MSS-CODECDA only when there is a CDA, as it requires."""
    headers = {"X-MSS-INS": "O" if any(d.patient.qualified for d in archive.documents) else "N"}
    codes = [
        cda.header_code(archive.contents[d.number]) or d.type.code
        for d in archive.documents
        if d.is_cda and d.number in archive.contents
    ]
    codes = [code for code in codes if code]
    if codes:
        headers["X-MSS-CODECDA"] = ",".join(dict.fromkeys(codes))
    return headers


def build(
    patient: Identity,
    kind: DocumentType,
    pdfs: list[Pdf],
    author: Author,
    *,
    with_cda: bool,
    when: datetime | None = None,
) -> bytes:
    when = when or datetime.now(UTC)
    entries: list[_Entry] = []
    for number, pdf in enumerate(pdfs, start=1):
        title = pdf.filename.rsplit(".", 1)[0] or kind.display
        if with_cda:
            wrapped = cda_document(patient, kind, author, pdf, when)
            entries.append(_Entry(f"DOC{number:04d}.XML", "text/xml", wrapped, kind.display))
        entries.append(_Entry(f"DOC{number:04d}.PDF", "application/pdf", pdf.data, title))
    metadata = _metadata(patient, kind, author, entries, when)
    return _zip(
        [
            ("INDEX.HTM", _index(kind, entries)),
            ("README.TXT", _readme(author)),
            (f"{SUBSET}/METADATA.XML", metadata),
            *((f"{SUBSET}/{entry.uri}", entry.data) for entry in entries),
        ],
        when,
    )


def _xml(root: ET.Element) -> bytes:
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


# -- METADATA.XML --------------------------------------------------------------------------


def _rim(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{RIM}}}{tag}", attributes)


def _slot(parent: ET.Element, name: str, *values: str) -> None:
    values_list = _rim(_rim(parent, "Slot", name=name), "ValueList")
    for value in values:
        _rim(values_list, "Value").text = value


def _name(parent: ET.Element, value: str) -> None:
    _rim(_rim(parent, "Name"), "LocalizedString", value=value)


def _classification(
    parent: ET.Element, scheme: str, target: str, code: str, coding: str, display: str
) -> ET.Element:
    element = _rim(
        parent,
        "Classification",
        classificationScheme=scheme,
        classifiedObject=target,
        id=f"{target}-{scheme[-4:]}",
        nodeRepresentation=code,
    )
    if coding:
        _slot(element, "codingScheme", coding)
    if display:
        _name(element, display)
    return element


def _external(parent: ET.Element, scheme: str, target: str, value: str, label: str) -> None:
    element = _rim(
        parent,
        "ExternalIdentifier",
        id=f"{target}-{scheme[-4:]}",
        registryObject=target,
        identificationScheme=scheme,
        value=value,
    )
    _name(element, label)


def _author(parent: ET.Element, scheme: str, target: str, author: Author) -> None:
    element = _classification(parent, scheme, target, "", "", "")
    _slot(element, "authorPerson", hl7.Person(family=author.name or author.address).encode())
    _slot(element, "authorTelecommunication", f"^^Internet^{hl7.clean(author.address)}")


def _metadata(
    patient: Identity, kind: DocumentType, author: Author, entries: list[_Entry], when: datetime
) -> bytes:
    root = ET.Element(f"{{{LCM}}}SubmitObjectsRequest")
    objects = _rim(root, "RegistryObjectList")
    patient_id = hl7.Identifier(ins.normalise(patient.ins), patient.ins_oid).encode()
    stamp = hl7.format_datetime(when)
    for number, entry in enumerate(entries, start=1):
        ident = f"Document{number:02d}"
        extrinsic = _rim(
            objects,
            "ExtrinsicObject",
            id=ident,
            mimeType=entry.mime_type,
            objectType=_DOCUMENT_ENTRY,
            status="urn:oasis:names:tc:ebxml-regrep:StatusType:Approved",
        )
        _slot(extrinsic, "creationTime", stamp)
        _slot(extrinsic, "languageCode", "fr-FR")
        _slot(extrinsic, "sourcePatientId", patient_id)
        _slot(
            extrinsic,
            "sourcePatientInfo",
            f"PID-3|{patient_id}^NH",
            f"PID-5|{hl7.clean(patient.family).upper()}^{hl7.clean(patient.given)}^^^^^L",
            f"PID-7|{patient.birth_date:%Y%m%d}",
            f"PID-8|{patient.sex}",
        )
        _slot(extrinsic, "size", str(len(entry.data)))
        _slot(extrinsic, "hash", hashlib.sha1(entry.data, usedforsecurity=False).hexdigest())
        _slot(extrinsic, "URI", entry.uri)
        _name(extrinsic, entry.title)
        _author(extrinsic, AUTHOR_SCHEME, ident, author)
        _classification(extrinsic, TYPE_CODE_SCHEME, ident, kind.code, LOINC, kind.display)
        _classification(
            extrinsic,
            _FORMAT_SCHEME,
            ident,
            _FORMAT_CODES[entry.mime_type],
            "1.3.6.1.4.1.19376.1.2.3",
            entry.mime_type,
        )
        _external(extrinsic, PATIENT_ID_SCHEME, ident, patient_id, "XDSDocumentEntry.patientId")
        _external(extrinsic, UNIQUE_ID_SCHEME, ident, new_oid(), "XDSDocumentEntry.uniqueId")
    package = _rim(objects, "RegistryPackage", id="SubmissionSet01")
    _slot(package, "submissionTime", stamp)
    _name(package, kind.label)
    _author(package, SUBMISSION_AUTHOR_SCHEME, "SubmissionSet01", author)
    _classification(
        package, _CONTENT_TYPE_SCHEME, "SubmissionSet01", kind.code, LOINC, kind.display
    )
    for scheme, value, label in (
        (_SUBMISSION_UID_SCHEME, new_oid(), "XDSSubmissionSet.uniqueId"),
        (_SOURCE_ID_SCHEME, new_oid(), "XDSSubmissionSet.sourceId"),
        (_SUBMISSION_PID_SCHEME, patient_id, "XDSSubmissionSet.patientId"),
    ):
        _external(package, scheme, "SubmissionSet01", value, label)
    _rim(
        objects,
        "Classification",
        id="SubmissionSet01-node",
        classifiedObject="SubmissionSet01",
        classificationNode=_SUBMISSION_SET,
    )
    for number in range(1, len(entries) + 1):
        association = _rim(
            objects,
            "Association",
            id=f"Association{number:02d}",
            associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
            sourceObject="SubmissionSet01",
            targetObject=f"Document{number:02d}",
        )
        _slot(association, "SubmissionSetStatus", "Original")
    return _xml(root)


# -- the archive -----------------------------------------------------------------------------


def _index(kind: DocumentType, entries: list[_Entry]) -> bytes:
    links = "".join(
        f'<li><a href="{SUBSET}/{e.uri}">{html.escape(e.title)}</a> ({e.mime_type})</li>'
        for e in entries
    )
    page = (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>IHE XDM</title>'
        f"</head><body><h1>{html.escape(kind.display)}</h1><ul>{links}</ul></body></html>\r\n"
    )
    return page.encode("utf-8")


def _readme(author: Author) -> bytes:
    text = (
        "Archive IHE XDM (ITI-32)\r\n"
        f"Émetteur : {author.name or author.address} <{author.address}>\r\n"
        "Logiciel : mss-webmail\r\n"
        f"Contenu : {SUBSET} (METADATA.XML et les documents)\r\n"
    )
    return text.encode("utf-8")


def _zip(members: list[tuple[str, bytes]], when: datetime) -> bytes:
    buffer = BytesIO()
    stamp = when.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in members:
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0x20  # MS-DOS "archive", as XDM tools write
            archive.writestr(info, data)
    return buffer.getvalue()
