"""Archives for the XDM tests: good ones from the builder, hostile ones made by hand."""

from __future__ import annotations

import io
import struct
import zipfile
from datetime import UTC, date, datetime

from webmail.trust import ins, xdm_build
from webmail.trust.xdm_build import Author, Identity, Pdf

WHEN = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
NIR = ins.with_key("2690299341732")
PATIENT = Identity("Lefèvre", "Anne-Sophie", date(1969, 2, 3), "F", NIR, "NIR")
AUTHOR = Author("Dr Jean Martin", "jean.martin@chu-demo.mssante.test")
LETTER = xdm_build.DOCUMENT_TYPES["11490-0"]


def pdf(text: str = "Compte rendu") -> bytes:
    """A small, valid one-page PDF."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def good_archive(count: int = 1, *, with_cda: bool = True, patient: Identity = PATIENT) -> bytes:
    pdfs = [Pdf(f"compte-rendu-{n}.pdf", pdf(f"Document {n}")) for n in range(1, count + 1)]
    return xdm_build.build(patient, LETTER, pdfs, AUTHOR, with_cda=with_cda, when=WHEN)


def zip_of(members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def with_members(archive: bytes, extra: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        members: list[tuple[str | zipfile.ZipInfo, bytes]] = [
            (info.filename, source.read(info)) for info in source.infolist()
        ]
    return zip_of(members + extra)


def replaced(archive: bytes, name: str, data: bytes) -> bytes:
    """The archive with one member's content changed (metadata left as it was)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        members: list[tuple[str | zipfile.ZipInfo, bytes]] = [
            (info.filename, data if info.filename == name else source.read(info))
            for info in source.infolist()
        ]
    return zip_of(members)


def lying_sizes(archive: bytes, size: int = 10) -> bytes:
    """Every member declares ``size`` bytes uncompressed, in the local and central headers."""
    data = bytearray(archive)
    position = 0
    while (position := data.find(b"PK\x03\x04", position)) != -1:
        struct.pack_into("<I", data, position + 22, size)
        position += 4
    position = 0
    while (position := data.find(b"PK\x01\x02", position)) != -1:
        struct.pack_into("<I", data, position + 24, size)
        position += 4
    return bytes(data)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&secret;</title></ClinicalDocument>
"""


def cda_with(body: str, header: str = "") -> bytes:
    """A CDA with one section whose narrative is ``body`` (raw XML)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <code code="11490-0" codeSystem="2.16.840.1.113883.6.1" displayName="Lettre de liaison"/>
  <title>Lettre de liaison</title>
  <effectiveTime value="20261124093000+0100"/>
  <recordTarget><patientRole>
    <id root="1.2.250.1.213.1.4.8" extension="{NIR}"/>
    <patient><name><given>Anne-Sophie</given><family qualifier="SP">Durand</family>
      <family qualifier="BR">LEFÈVRE</family></name>
      <administrativeGenderCode code="F"/><birthTime value="19690203"/></patient>
  </patientRole></recordTarget>
  <author><time value="20261124093000+0100"/><assignedAuthor><assignedPerson><name>
    <prefix>Dr</prefix><given>Jean</given><family>MARTIN</family></name></assignedPerson>
  </assignedAuthor></author>
  {header}
  <component><structuredBody>
    <component><section><title>Motif</title><text>{body}</text></section></component>
  </structuredBody></component>
</ClinicalDocument>
""".encode()
