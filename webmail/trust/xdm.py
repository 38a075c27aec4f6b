"""IHE XDM media (ITI TF-3, 3.32): an ``IHE_XDM.ZIP`` read into a submission and its documents.

The archive holds ``IHE_XDM/<subset>/METADATA.XML``, an ebRIM ``SubmitObjectsRequest``: one
``RegistryPackage`` (the submission set: author, time, title) and one ``ExtrinsicObject`` per
document, its facts in slots (``creationTime``, ``URI``, ``hash``, ``size``,
``sourcePatientInfo``), classifications (``typeCode``, ``author``) and external identifiers
(``XDSDocumentEntry.patientId``). Nothing here trusts the archive: see ``zipsafe`` for the
archive itself, and the XML is read with ``defusedxml`` (no DTD, no entity, no network).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import xml.etree.ElementTree as ET  # types and ParseError only: parsing is defusedxml
from dataclasses import dataclass, field
from datetime import date, datetime

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from webmail.i18n import N_
from webmail.trust import hl7, ins
from webmail.trust.zipsafe import ArchiveRefused, SafeZip, ZipLimits

ARCHIVE_NAME = "IHE_XDM.ZIP"
METADATA = "METADATA.XML"

# XDS classification schemes and identification schemes (ITI TF-3, 4.2.5).
AUTHOR_SCHEME = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
TYPE_CODE_SCHEME = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
SUBMISSION_AUTHOR_SCHEME = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
PATIENT_ID_SCHEME = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
UNIQUE_ID_SCHEME = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"

NO_METADATA = N_("METADATA.XML absent de l'archive")
BAD_XML = N_("METADATA.XML illisible")
FORBIDDEN_XML = N_("XML refusé : DTD ou entités interdites")
HASH_MISMATCH = N_("l'empreinte du document ne correspond pas à celle des métadonnées")
MISSING_DOCUMENT = N_("document annoncé mais absent de l'archive")
SEVERAL_SUBSETS = N_("plusieurs lots de documents : seul le premier est affiché")


@dataclass(frozen=True)
class Patient:
    family: str = ""
    given: str = ""
    birth_date: date | None = None
    sex: str = ""  # F, M, U, or "" when not said
    ins: str = ""
    ins_oid: str = ""

    @property
    def ins_kind(self) -> str:
        return ins.kind(self.ins_oid)

    @property
    def qualified(self) -> bool:
        return bool(self.ins) and ins.qualified(self.ins_oid)

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.family.upper(), self.given) if part)


@dataclass(frozen=True)
class Code:
    code: str = ""
    display: str = ""
    scheme: str = ""


@dataclass(frozen=True)
class Document:
    number: int  # 1, 2…: its place in the archive's list, and in URLs
    title: str
    patient: Patient
    type: Code
    author: str
    created: datetime | None
    mime_type: str
    path: str  # the member in the archive ("" when missing)
    size: int  # of the bytes found (0 when missing)
    # True when the SHA-1 matches, False when it does not, None when the metadata gave none.
    hash_ok: bool | None
    warnings: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return posixpath.basename(self.path) or f"document-{self.number}"

    @property
    def is_cda(self) -> bool:
        return self.mime_type in ("text/xml", "application/xml", "application/hl7-v3+xml")

    @property
    def is_pdf(self) -> bool:
        return self.mime_type == "application/pdf"


@dataclass(frozen=True)
class Submission:
    author: str = ""
    date: datetime | None = None
    title: str = ""


@dataclass(frozen=True)
class Archive:
    submission: Submission
    documents: list[Document]
    warnings: tuple[str, ...] = ()
    # Each document's bytes, by number: kept only as long as the caller keeps the archive.
    contents: dict[int, bytes] = field(default_factory=dict, repr=False)

    @property
    def patient(self) -> Patient:
        """The patient of the submission (XDM carries one patient per submission set)."""
        return self.documents[0].patient if self.documents else Patient()


def is_xdm_attachment(filename: str, content_type: str) -> bool:
    del content_type  # the name decides: IHE_XDM.ZIP is sent as application/zip or octet-stream
    return filename.strip().upper() == ARCHIVE_NAME


def read_archive(data: bytes, limits: ZipLimits | None = None) -> Archive:
    """The submission and its documents; ArchiveRefused when the archive cannot be read."""
    archive = SafeZip(data, limits or ZipLimits())
    subsets = sorted(
        name for name in archive.names if re.fullmatch(r"(?i)IHE_XDM/[^/]+/" + METADATA, name)
    )
    if not subsets:
        raise ArchiveRefused(NO_METADATA)
    warnings = (SEVERAL_SUBSETS,) if len(subsets) > 1 else ()
    root = parse_xml(archive.read(subsets[0]), BAD_XML)
    folder = posixpath.dirname(subsets[0])
    contents: dict[int, bytes] = {}
    documents = []
    for number, entry in enumerate(_children(root, "ExtrinsicObject"), start=1):
        document, content = _document(archive, folder, number, entry)
        documents.append(document)
        if content is not None:
            contents[number] = content
    package = next(iter(_children(root, "RegistryPackage")), None)
    submission = _submission(package) if package is not None else Submission()
    return Archive(submission, documents, warnings, contents)


def parse_xml(data: bytes, unreadable: str) -> ET.Element:
    try:
        root: ET.Element = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise ArchiveRefused(FORBIDDEN_XML) from None
    except (ET.ParseError, ValueError):
        raise ArchiveRefused(unreadable) from None
    return root


# -- ebRIM reading -----------------------------------------------------------------------------


def local(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def _children(root: ET.Element, name: str) -> list[ET.Element]:
    return [element for element in root.iter() if local(element.tag) == name]


def _direct(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if local(child.tag) == name]


def slot_values(element: ET.Element, name: str) -> list[str]:
    for slot in _direct(element, "Slot"):
        if slot.get("name") == name:
            return [(value.text or "").strip() for value in _children(slot, "Value")]
    return []


def _slot(element: ET.Element, name: str) -> str:
    values = slot_values(element, name)
    return values[0] if values else ""


def _name(element: ET.Element) -> str:
    for name in _direct(element, "Name"):
        for string in _children(name, "LocalizedString"):
            if string.get("value"):
                return string.get("value", "").strip()
    return ""


def _classification(element: ET.Element, scheme: str) -> ET.Element | None:
    for classification in _direct(element, "Classification"):
        if classification.get("classificationScheme") == scheme:
            return classification
    return None


def _external_id(element: ET.Element, scheme: str) -> str:
    for identifier in _direct(element, "ExternalIdentifier"):
        if identifier.get("identificationScheme") == scheme:
            return identifier.get("value", "").strip()
    return ""


def _author(element: ET.Element, scheme: str) -> str:
    classification = _classification(element, scheme)
    if classification is None:
        return ""
    people = slot_values(classification, "authorPerson")
    shown = hl7.parse_person(people[0]).display if people else ""
    return shown or _slot(classification, "authorInstitution").split("^")[0]


def _type_code(entry: ET.Element) -> Code:
    classification = _classification(entry, TYPE_CODE_SCHEME)
    if classification is None:
        return Code()
    return Code(
        code=classification.get("nodeRepresentation", "").strip(),
        display=_name(classification),
        scheme=_slot(classification, "codingScheme"),
    )


def _patient(entry: ET.Element) -> Patient:
    info: dict[str, list[str]] = {}
    for value in slot_values(entry, "sourcePatientInfo"):
        key, _bar, rest = value.partition("|")
        info.setdefault(key.strip().upper(), []).append(rest)
    name = (info.get("PID-5") or [""])[0].split("^")
    identifiers = [
        hl7.parse_identifier(text)
        for text in (
            *info.get("PID-3", []),
            _slot(entry, "sourcePatientId"),
            _external_id(entry, PATIENT_ID_SCHEME),
        )
    ]
    found = [identifier for identifier in identifiers if identifier is not None]
    chosen = next((i for i in found if ins.kind(i.oid)), found[0] if found else None)
    sex = (info.get("PID-8") or [""])[0].strip().upper()[:1]
    return Patient(
        family=name[0].strip(),
        given=name[1].strip() if len(name) > 1 else "",
        birth_date=hl7.parse_date((info.get("PID-7") or [""])[0]),
        sex=sex if sex in ("F", "M", "U") else "",
        ins=chosen.value if chosen else "",
        ins_oid=chosen.oid if chosen else "",
    )


def _document(
    archive: SafeZip, folder: str, number: int, entry: ET.Element
) -> tuple[Document, bytes | None]:
    uri = _slot(entry, "URI")
    path = _member(archive, folder, uri)
    warnings: list[str] = []
    content = archive.read(path) if path else None
    if content is None:
        warnings.append(MISSING_DOCUMENT)
    declared_hash = _slot(entry, "hash").lower()
    hash_ok: bool | None = None
    if content is not None and declared_hash:
        hash_ok = hashlib.sha1(content, usedforsecurity=False).hexdigest() == declared_hash
        if not hash_ok:
            warnings.append(HASH_MISMATCH)
    document = Document(
        number=number,
        title=_name(entry),
        patient=_patient(entry),
        type=_type_code(entry),
        author=_author(entry, AUTHOR_SCHEME),
        created=hl7.parse_datetime(_slot(entry, "creationTime")),
        mime_type=entry.get("mimeType", "application/octet-stream").strip().lower(),
        path=path or "",
        size=len(content) if content is not None else 0,
        hash_ok=hash_ok,
        warnings=tuple(warnings),
    )
    return document, content


def _member(archive: SafeZip, folder: str, uri: str) -> str | None:
    """The member a document's URI names, relative to its subset folder; a URI that would
    climb out of the archive names nothing."""
    if not uri or uri.startswith("/") or "\\" in uri or ".." in uri.split("/"):
        return None
    # Some producers write the path from the archive's root instead.
    return archive.find(posixpath.join(folder, uri)) or archive.find(uri)


def _submission(package: ET.Element) -> Submission:
    return Submission(
        author=_author(package, SUBMISSION_AUTHOR_SCHEME),
        date=hl7.parse_datetime(_slot(package, "submissionTime")),
        title=_name(package),
    )
