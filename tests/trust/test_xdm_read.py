"""Reading IHE_XDM.ZIP: good archives in full, hostile ones refused with their reason."""

from __future__ import annotations

import io
import os
import time
import zipfile
from datetime import date

import pytest

from tests.trust import xdm_samples as samples
from webmail.trust import cda, hl7, ins, xdm, zipsafe
from webmail.trust.xdm import read_archive
from webmail.trust.xdm_build import Identity
from webmail.trust.zipsafe import ArchiveRefused, ZipLimits

METADATA = "IHE_XDM/SUBSET01/METADATA.XML"


def refused(data: bytes, limits: ZipLimits | None = None) -> str:
    with pytest.raises(ArchiveRefused) as caught:
        read_archive(data, limits)
    return caught.value.reason


# -- good archives -------------------------------------------------------------------------


def test_one_pdf_with_its_cda() -> None:
    archive = read_archive(samples.good_archive(1))
    assert [d.mime_type for d in archive.documents] == ["text/xml", "application/pdf"]
    patient = archive.patient
    assert (patient.family, patient.given) == ("LEFÈVRE", "Anne-Sophie")
    assert patient.birth_date == date(1969, 2, 3)
    assert patient.sex == "F"
    assert (patient.ins, patient.ins_oid, patient.ins_kind) == (samples.NIR, ins.NIR_OID, "NIR")
    assert patient.qualified
    for document in archive.documents:
        assert document.type.code == "11490-0"
        assert document.type.display.startswith("Lettre de liaison")
        assert document.author == "Dr Jean Martin"
        assert document.created == samples.WHEN
        assert document.hash_ok is True
        assert document.warnings == ()
        assert document.size == len(archive.contents[document.number])
    assert archive.contents[2] == samples.pdf("Document 1")
    assert archive.documents[1].path == "IHE_XDM/SUBSET01/DOC0001.PDF"
    assert archive.submission.author == "Dr Jean Martin"
    assert archive.submission.date == samples.WHEN
    assert archive.submission.title == "Lettre de liaison"


def test_several_pdfs_without_cda() -> None:
    archive = read_archive(samples.good_archive(3, with_cda=False))
    assert [d.filename for d in archive.documents] == ["DOC0001.PDF", "DOC0002.PDF", "DOC0003.PDF"]
    assert [archive.contents[d.number] for d in archive.documents] == [
        samples.pdf(f"Document {n}") for n in (1, 2, 3)
    ]
    assert all(d.is_pdf and not d.is_cda for d in archive.documents)


def test_test_identity_is_not_qualified() -> None:
    patient = Identity(
        "Test", "Patient", date(2000, 1, 1), "M", ins.with_key("1000175000001"), "test"
    )
    archive = read_archive(samples.good_archive(patient=patient))
    assert archive.patient.ins_kind == "test"
    assert not archive.patient.qualified


def test_archive_made_by_other_software_reads() -> None:
    """The demo corpus writes its archives on its own (another producer's habits)."""
    from email import message_from_bytes, policy

    from dev.corpus import demo_messages

    for _folder, _flags, _when, raw in demo_messages("gp@demo.mssante.test", 60, seed=3):
        message = message_from_bytes(raw, policy=policy.default)
        for part in message.walk():
            if part.get_filename() == "IHE_XDM.ZIP":
                archive = read_archive(part.get_payload(decode=True))
                assert archive.documents and all(d.hash_ok for d in archive.documents)
                assert archive.patient.family and archive.patient.ins_kind == "test"
                assert archive.documents[0].type.code
                [cda_doc] = [d for d in archive.documents if d.is_cda]
                rendered = cda.render(archive.contents[cda_doc.number])
                assert rendered.sections and all(s.title and s.html for s in rendered.sections)
                assert rendered.patient.family == archive.patient.family
                return
    pytest.fail("the corpus holds no XDM archive")


def test_hash_mismatch_is_a_warning_not_a_refusal() -> None:
    data = samples.replaced(samples.good_archive(1), "IHE_XDM/SUBSET01/DOC0001.PDF", b"%PDF-1.4 x")
    archive = read_archive(data)
    pdf = archive.documents[1]
    assert pdf.hash_ok is False
    assert pdf.warnings == (xdm.HASH_MISMATCH,)
    assert archive.contents[2] == b"%PDF-1.4 x"
    assert archive.documents[0].hash_ok is True


def test_missing_document_is_listed_with_a_warning() -> None:
    good = samples.good_archive(1, with_cda=False)
    with zipfile.ZipFile(io.BytesIO(good)) as source:
        members = [(n, source.read(n)) for n in source.namelist() if not n.endswith(".PDF")]
    archive = read_archive(samples.zip_of(list(members)))
    assert archive.documents[0].warnings == (xdm.MISSING_DOCUMENT,)
    assert archive.documents[0].size == 0 and 1 not in archive.contents


def test_nested_zip_is_a_document_never_opened() -> None:
    inner = samples.good_archive(1)
    good = samples.good_archive(1, with_cda=False)
    data = samples.replaced(good, "IHE_XDM/SUBSET01/DOC0001.PDF", inner)
    archive = read_archive(data)
    assert archive.contents[1] == inner  # bytes for download, nothing more
    assert len(archive.documents) == 1


def test_uri_climbing_out_of_the_subset_names_nothing() -> None:
    good = samples.good_archive(1, with_cda=False)
    with zipfile.ZipFile(io.BytesIO(good)) as source:
        metadata = source.read(METADATA).replace(b">DOC0001.PDF<", b">../../README.TXT<")
    archive = read_archive(samples.replaced(good, METADATA, metadata))
    assert archive.documents[0].warnings[0] == xdm.MISSING_DOCUMENT


def test_member_names_are_matched_without_case() -> None:
    good = samples.good_archive(1, with_cda=False)
    with zipfile.ZipFile(io.BytesIO(good)) as source:
        members = [
            (n.replace("DOC0001.PDF", "doc0001.pdf"), source.read(n)) for n in source.namelist()
        ]
    archive = read_archive(samples.zip_of(list(members)))
    assert archive.documents[0].path == "IHE_XDM/SUBSET01/doc0001.pdf"
    assert archive.documents[0].hash_ok


# -- hostile archives ----------------------------------------------------------------------


def test_not_a_zip() -> None:
    assert refused(b"PK\x03\x04 this is not a zip") == zipsafe.CORRUPT
    assert refused(b"") == zipsafe.CORRUPT


def test_no_metadata() -> None:
    assert refused(samples.zip_of([("README.TXT", b"hello")])) == xdm.NO_METADATA


def test_zip_bomb_by_ratio_is_stopped_while_inflating() -> None:
    bomb = samples.with_members(
        samples.good_archive(1), [("IHE_XDM/SUBSET01/DOC0009.PDF", bytes(200 << 20))]
    )
    metadata = zipfile.ZipFile(io.BytesIO(bomb)).read(METADATA)
    bomb = samples.replaced(bomb, METADATA, metadata.replace(b">DOC0001.PDF<", b">DOC0009.PDF<"))
    started = time.monotonic()
    assert refused(samples.lying_sizes(bomb)) == zipsafe.TOO_LARGE
    # Stopped at the first megabytes: never inflated to its 200 MB.
    assert time.monotonic() - started < 2


def test_total_size_with_small_declared_sizes() -> None:
    """Incompressible members, each under the per-member limit, declaring 10 bytes each."""
    limits = ZipLimits(max_member_bytes=1 << 20, max_total_bytes=2 << 20)
    good = samples.good_archive(3, with_cda=False)
    big = {f"IHE_XDM/SUBSET01/DOC000{n}.PDF": os.urandom(900_000) for n in (1, 2, 3)}
    data = good
    for name, content in big.items():
        data = samples.replaced(data, name, content)
    assert refused(samples.lying_sizes(data), limits) == zipsafe.TOO_LARGE
    # The same archive with its sizes told truly is just as refused: the sizes are never trusted.
    assert refused(data, limits) == zipsafe.TOO_LARGE


def test_one_member_over_its_limit() -> None:
    limits = ZipLimits(max_member_bytes=100_000)
    data = samples.replaced(
        samples.good_archive(1, with_cda=False), "IHE_XDM/SUBSET01/DOC0001.PDF", os.urandom(150_000)
    )
    assert refused(samples.lying_sizes(data), limits) == zipsafe.TOO_LARGE


def test_ten_thousand_members() -> None:
    data = samples.with_members(
        samples.good_archive(1), [(f"x/{n}.txt", b"") for n in range(10_000)]
    )
    assert refused(data) == zipsafe.TOO_MANY


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "IHE_XDM/../../evil.txt",
        "/etc/passwd",
        "C:/Windows/evil.txt",
        "IHE_XDM\\..\\evil.txt",
        "c:evil",
    ],
)
def test_forbidden_paths(name: str) -> None:
    data = samples.with_members(samples.good_archive(1), [(zipfile.ZipInfo(name), b"x")])
    assert zipfile.ZipFile(io.BytesIO(data)).namelist()[-1] == name  # really in it
    assert refused(data) == zipsafe.BAD_PATH


def test_symlink_member() -> None:
    link = zipfile.ZipInfo("IHE_XDM/SUBSET01/DOC0002.PDF")
    link.create_system = 3
    link.external_attr = 0o120777 << 16
    data = samples.with_members(samples.good_archive(1, with_cda=False), [(link, b"/etc/passwd")])
    assert refused(data) == zipsafe.LINK


def test_encrypted_member() -> None:
    data = bytearray(samples.good_archive(1, with_cda=False))
    position = data.find(b"PK\x01\x02")
    data[position + 8] |= 0x1  # the central directory's "encrypted" flag
    assert refused(bytes(data)) == zipsafe.ENCRYPTED


def test_corrupted_content_fails_its_crc() -> None:
    data = bytearray(samples.good_archive(1, with_cda=False))
    position = data.rfind(b"DOC0001.PDF", 0, data.find(b"PK\x01\x02"))
    data[position + 40] ^= 0xFF  # a byte of the compressed PDF
    assert refused(bytes(data)) == zipsafe.CORRUPT


@pytest.mark.parametrize("hostile", [samples.BILLION_LAUGHS, samples.EXTERNAL_ENTITY])
def test_entities_in_metadata(hostile: bytes) -> None:
    data = samples.replaced(samples.good_archive(1), METADATA, hostile)
    started = time.monotonic()
    assert refused(data) == xdm.FORBIDDEN_XML
    assert time.monotonic() - started < 1


def test_metadata_not_xml() -> None:
    data = samples.replaced(samples.good_archive(1), METADATA, b"<unclosed")
    assert refused(data) == xdm.BAD_XML


def test_several_subsets_show_the_first_and_say_so() -> None:
    good = samples.good_archive(1, with_cda=False)
    metadata = zipfile.ZipFile(io.BytesIO(good)).read(METADATA)
    data = samples.with_members(good, [("IHE_XDM/SUBSET02/METADATA.XML", metadata)])
    archive = read_archive(data)
    assert archive.warnings == (xdm.SEVERAL_SUBSETS,)
    assert archive.contents[1] == samples.pdf("Document 1")


def test_attachment_names() -> None:
    assert xdm.is_xdm_attachment("IHE_XDM.ZIP", "application/zip")
    assert xdm.is_xdm_attachment("ihe_xdm.zip", "application/octet-stream")
    assert not xdm.is_xdm_attachment("IHE_XDM.ZIP.exe", "application/zip")
    assert not xdm.is_xdm_attachment("archive.zip", "application/zip")


def test_a_huge_directory_is_refused_before_it_is_read() -> None:
    data = bytearray(samples.good_archive(1))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = b"\xff\xff\xff\xff"  # 65,535 members said, on this disk and in all
    assert refused(bytes(data)) == zipsafe.TOO_MANY


def test_hl7_values() -> None:
    assert hl7.parse_datetime("20261124093000+0100").isoformat() == "2026-11-24T09:30:00+01:00"
    assert hl7.parse_datetime("20261124").isoformat() == "2026-11-24T00:00:00+00:00"
    assert hl7.parse_datetime("20261340") is None and hl7.parse_datetime("hier") is None
    assert hl7.parse_date("19690203") == date(1969, 2, 3) and hl7.parse_date("1969") is None
    person = hl7.parse_person("899700000001^MARTIN^Jean^^^Dr^^^&1.2.250.1.71.4.2.1&ISO^D")
    assert (person.display, person.ident, person.oid) == (
        "Dr Jean MARTIN",
        "899700000001",
        "1.2.250.1.71.4.2.1",
    )
    assert hl7.parse_identifier("123^^^&1.2.250.1.213.1.4.8&ISO^NH") == hl7.Identifier(
        "123", ins.NIR_OID
    )
    assert hl7.clean("DUPONT^|&~\\x\r\nY") == "DUPONT x Y"


def test_uri_written_from_the_archive_root() -> None:
    good = samples.good_archive(1, with_cda=False)
    with zipfile.ZipFile(io.BytesIO(good)) as source:
        metadata = source.read(METADATA).replace(
            b">DOC0001.PDF<", b">IHE_XDM/SUBSET01/DOC0001.PDF<"
        )
    archive = read_archive(samples.replaced(good, METADATA, metadata))
    assert (
        archive.documents[0].path == "IHE_XDM/SUBSET01/DOC0001.PDF" and archive.documents[0].hash_ok
    )
