"""A CDA R2 "non structuré": the CI-SIS header around a PDF carried in a ``nonXMLBody``.

Written with ElementTree (every value escaped); nothing is parsed here.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET  # writing only: nothing is parsed here
from datetime import UTC, datetime

from webmail.trust import ins
from webmail.trust.submission import LOINC, Author, DocumentType, Identity, Pdf, new_oid

HL7 = "urn:hl7-org:v3"


def _hl7(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    # Unqualified names under a root carrying xmlns: the HL7 namespace as the default one.
    return ET.SubElement(parent, tag, attributes)


def cda_document(
    patient: Identity, kind: DocumentType, author: Author, pdf: Pdf, when: datetime
) -> bytes:
    stamp = when.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    root = ET.Element("ClinicalDocument", xmlns=HL7)
    _hl7(root, "realmCode", code="FR")
    _hl7(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    _hl7(root, "templateId", root="2.16.840.1.113883.2.8.2.1")
    _hl7(root, "templateId", root="1.2.250.1.213.1.1.1.1")
    _hl7(root, "id", root=new_oid())
    _hl7(root, "code", code=kind.code, codeSystem=LOINC, displayName=kind.display)
    _hl7(root, "title").text = kind.display
    _hl7(root, "effectiveTime", value=stamp)
    _hl7(root, "confidentialityCode", code="N", codeSystem="2.16.840.1.113883.5.25")
    _hl7(root, "languageCode", code="fr-FR")
    _hl7(root, "setId", root=new_oid())
    _hl7(root, "versionNumber", value="1")
    role = _hl7(_hl7(root, "recordTarget"), "patientRole")
    _hl7(role, "id", root=patient.ins_oid, extension=ins.normalise(patient.ins))
    person = _hl7(role, "patient")
    name = _hl7(person, "name")
    _hl7(name, "given").text = patient.given
    _hl7(name, "family", qualifier="BR").text = patient.family.upper()
    _hl7(person, "administrativeGenderCode", code=patient.sex, codeSystem="2.16.840.1.113883.5.1")
    _hl7(person, "birthTime", value=f"{patient.birth_date:%Y%m%d}")
    writer = _hl7(root, "author")
    _hl7(writer, "time", value=stamp)
    assigned = _hl7(writer, "assignedAuthor")
    _hl7(assigned, "id", nullFlavor="UNK")
    _hl7(assigned, "telecom", value=f"mailto:{author.address}")
    _hl7(_hl7(_hl7(assigned, "assignedPerson"), "name"), "family").text = (
        author.name or author.address
    )
    keeper = _hl7(_hl7(root, "custodian"), "assignedCustodian")
    custodian = _hl7(keeper, "representedCustodianOrganization")
    _hl7(custodian, "id", nullFlavor="UNK")
    body = _hl7(_hl7(root, "component"), "nonXMLBody")
    text = _hl7(body, "text", mediaType="application/pdf", representation="B64")
    text.text = base64.b64encode(pdf.data).decode("ascii")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
