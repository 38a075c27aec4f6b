"""What is said about a document sent for a patient: the patient, the type, the author, the PDFs.

The input of ``xdm_build`` and ``cda_build``, checked by the compose form before either runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from webmail.trust import ins

LOINC = "2.16.840.1.113883.6.1"


@dataclass(frozen=True)
class DocumentType:
    code: str  # LOINC
    display: str  # as the CI-SIS value set names it
    label: str  # what the MSSanté subject says


DOCUMENT_TYPES = {
    t.code: t
    for t in (
        DocumentType("11490-0", "Lettre de liaison à la sortie d'un établissement de soins",
                     "Lettre de liaison"),
        DocumentType("34112-3", "Compte rendu d'hospitalisation", "CR d'hospitalisation"),
        DocumentType("11488-4", "Compte rendu de consultation", "CR de consultation"),
        DocumentType("34874-8", "Compte rendu opératoire", "CR opératoire"),
        DocumentType("18748-4", "Compte rendu d'imagerie médicale", "CR d'imagerie"),
        DocumentType("11502-2", "Compte rendu d'examens de biologie médicale", "CR de biologie"),
        DocumentType("57833-6", "Prescription de médicaments", "Prescription"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Identity:
    family: str
    given: str
    birth_date: date
    sex: str  # F, M or U
    ins: str
    ins_kind: str  # NIR, NIA or test

    @property
    def ins_oid(self) -> str:
        return ins.KIND_OIDS[self.ins_kind]


@dataclass(frozen=True)
class Author:
    name: str
    address: str


@dataclass(frozen=True)
class Pdf:
    filename: str
    data: bytes


def new_oid() -> str:
    # The 2.25 arc turns a random UUID into an OID: unique with no registration.
    return f"2.25.{uuid.uuid4().int}"
