"""Compose "joindre comme document structuré": built, sent through Postfix, opened again."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, csrf_token, form_value, login, soup, wait_for_messages
from tests.trust import xdm_samples as samples
from tests.views.forms import parse, submit
from webmail.app import create_app
from webmail.settings import Settings
from webmail.trust import ins
from webmail.trust.xdm import read_archive

PDF_A = samples.pdf("Lettre de liaison")
PDF_B = samples.pdf("Ordonnance de sortie")
IDENTITY = {
    "xdm_family": "Lefèvre",
    "xdm_given": "Anne-Sophie",
    "xdm_birth": "1969-02-03",
    "xdm_sex": "F",
    "xdm_ins": samples.NIR,
    "xdm_ins_kind": "NIR",
    "xdm_type": "11490-0",
}


def compose(client: TestClient, files: list[Any] | None = None, **fields: str) -> Any:
    data = {
        "csrf_token": csrf_token(client),
        "mode": "new",
        "action": "send",
        "body": "Voir le document.",
        **fields,
    }
    return client.post("/compose", data=data, files=files or None)


def pdfs(*items: tuple[str, bytes]) -> list[Any]:
    return [("xdm_pdfs", (name, data, "application/pdf")) for name, data in items]


def xdm_part(message: Any) -> bytes:
    [part] = [p for p in message.iter_attachments() if p.get_filename() == "IHE_XDM.ZIP"]
    assert part.get_content_type() == "application/zip"
    return part.get_content()


def test_the_section_is_collapsed_and_complete(logged_in: TestClient) -> None:
    page = soup(logged_in.get("/compose").text)
    details = page.select_one("form.compose-form details.structured")
    assert details is not None and not details.has_attr("open")
    assert details.select_one("summary").get_text(strip=True) == "Joindre comme document structuré"
    codes = [o["value"] for o in details.select("select[name=xdm_type] option")]
    assert {"11490-0", "34112-3", "18748-4", "11502-2", "34874-8"} <= set(codes)
    assert [o["value"] for o in details.select("select[name=xdm_ins_kind] option")] == [
        "NIR",
        "NIA",
        "test",
    ]
    assert details.select_one("input[name=xdm_pdfs]")["accept"] == "application/pdf,.pdf"


def test_build_send_receive_and_open(
    logged_in: TestClient, settings: Settings, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    response = compose(
        logged_in,
        files=pdfs(("lettre.pdf", PDF_A), ("ordonnance.pdf", PDF_B)),
        to=other_user.address,
        xdm_cda="1",
        **IDENTITY,
    )
    assert response.status_code == 303, response.text
    received = parse(wait_for_messages(stack, other_user)[0])
    assert received["Subject"] == "XDM/1.0/DDM+Lettre de liaison LEFÈVRE Anne-Sophie 03/02/1969"
    assert received["X-MSS-INS"] == "O"
    assert received["X-MSS-CODECDA"] == "11490-0"
    data = xdm_part(received)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names[:3] == ["INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML"]
    archive = read_archive(data)
    assert [d.mime_type for d in archive.documents] == ["text/xml", "application/pdf"] * 2
    assert archive.patient.ins == samples.NIR and archive.patient.qualified
    assert archive.documents[0].author == user.address  # a password session has no name

    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as reader:
        login(reader, other_user)
        listing = soup(reader.get("/mail?folder=INBOX").text)
        assert "XDM/1.0/DDM+" not in listing.get_text()
        href = next(a["href"] for a in listing.select("a[href^='/mail/message']"))
        page = soup(reader.get(href).text)
        assert page.select_one(".message-subject").get_text(" ", strip=True) == (
            "XDM Lettre de liaison LEFÈVRE Anne-Sophie 03/02/1969"
        )
        block = page.select_one("section.structured-documents")
        assert block.select_one(".xdm-patient-name").get_text(strip=True) == "LEFÈVRE Anne-Sophie"
        assert block.select_one(".xdm-birth").get_text(strip=True) == "03/02/1969"
        assert block.select_one(".xdm-ins").get_text(" ", strip=True) == f"{samples.NIR} NIR"
        assert len(block.select("li.xdm-document")) == 4
        cda = soup(reader.get(block.select("a.xdm-open")[0]["href"]).text)
        assert cda.select_one(".cda-patient").get_text(strip=True) == "LEFÈVRE Anne-Sophie"
        previews = [reader.get(a["href"]) for a in block.select("a.xdm-preview")]
        assert [p.content for p in previews] == [PDF_A, PDF_B]
        assert all(p.headers["content-type"] == "application/pdf" for p in previews)
        downloads = [reader.get(a["href"]).content for a in block.select("a.xdm-download")]
        assert downloads[1] == PDF_A and downloads[3] == PDF_B


def test_without_cda_and_with_a_typed_subject(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    identity = {
        **IDENTITY,
        "xdm_ins": ins.with_key("1000175000001"),
        "xdm_ins_kind": "test",
        "xdm_type": "18748-4",
    }
    response = compose(
        logged_in,
        files=pdfs(("irm.pdf", PDF_A)),
        to=other_user.address,
        subject="IRM du genou",
        **identity,
    )
    assert response.status_code == 303, response.text
    received = parse(wait_for_messages(stack, other_user)[0])
    assert received["Subject"] == "IRM du genou"
    assert received["X-MSS-INS"] == "N"  # a test identity is never a qualified one
    assert received["X-MSS-CODECDA"] is None
    archive = read_archive(xdm_part(received))
    assert [d.mime_type for d in archive.documents] == ["application/pdf"]
    assert archive.documents[0].type.code == "18748-4"


def test_mistakes_keep_the_text_and_the_pdfs(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    wrong = {**IDENTITY, "xdm_family": "", "xdm_ins": samples.NIR[:-2] + "00"}
    first = compose(
        logged_in,
        files=[
            *pdfs(("lettre.pdf", PDF_A)),
            ("attachments", ("note.txt", b"annexe", "text/plain")),
        ],
        to=other_user.address,
        subject="Sortie",
        body="Texte à ne pas perdre",
        **wrong,
    )
    assert first.status_code == 400
    page = soup(first.text)
    assert page.find("textarea", attrs={"name": "body"}).get_text() == "Texte à ne pas perdre"
    assert form_value(first.text, "subject") == "Sortie"
    assert page.select_one("details.structured").has_attr("open")
    errors = [li.get_text() for li in page.select("#structured-errors li")]
    assert errors[0] == "Indiquez le nom de naissance du patient."
    assert errors[1].startswith("Le matricule INS doit compter 15 caractères")
    assert len(errors) == 2
    assert form_value(first.text, "xdm_given") == "Anne-Sophie"
    assert form_value(first.text, "xdm_ins") == wrong["xdm_ins"]
    assert page.select_one("select[name=xdm_sex] option[selected]")["value"] == "F"
    # The PDF is kept in Drafts and listed in the section; the other file with the others.
    kept = page.select(".structured-kept input[name=xdm_keep]")
    assert len(kept) == 1 and "lettre.pdf" in page.select_one(".structured-kept").get_text()
    assert [k.get_text(" ", strip=True) for k in page.select(".kept-file")] == ["note.txt (6\xa0o)"]
    assert len(wait_for_messages(stack, user, "Drafts")) == 1

    fixed = submit(
        logged_in,
        first.text,
        xdm_family="Lefèvre",
        xdm_ins=samples.NIR,
        xdm_sex="F",
        xdm_ins_kind="NIR",
        xdm_type="11490-0",
    )
    assert fixed.status_code == 303, fixed.text
    received = parse(wait_for_messages(stack, other_user)[0])
    assert received["Subject"] == "Sortie"
    archive = read_archive(xdm_part(received))
    assert [archive.contents[d.number] for d in archive.documents if d.is_pdf] == [PDF_A]
    files = {p.get_filename(): p.get_content() for p in received.iter_attachments()}
    assert files["note.txt"] in ("annexe", b"annexe")
    assert set(files) == {"note.txt", "IHE_XDM.ZIP"}


def test_a_file_that_is_not_a_pdf_is_refused(logged_in: TestClient, other_user: MailUser) -> None:
    response = compose(
        logged_in,
        files=[("xdm_pdfs", ("virus.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"))],
        to=other_user.address,
        **IDENTITY,
    )
    assert response.status_code == 400
    errors = [li.get_text() for li in soup(response.text).select("#structured-errors li")]
    assert errors == [
        "« virus.pdf » n'est pas un PDF : seuls des PDF peuvent être joints comme document structuré."
    ]


def test_an_identity_without_any_pdf_is_refused(
    logged_in: TestClient, other_user: MailUser
) -> None:
    response = compose(logged_in, to=other_user.address, **IDENTITY)
    assert response.status_code == 400
    errors = [li.get_text() for li in soup(response.text).select("#structured-errors li")]
    assert errors == ["Choisissez au moins un PDF à joindre comme document structuré."]


def test_birth_date_and_sex_are_checked(logged_in: TestClient, other_user: MailUser) -> None:
    response = compose(
        logged_in,
        files=pdfs(("a.pdf", PDF_A)),
        to=other_user.address,
        **{**IDENTITY, "xdm_birth": "2999-01-01", "xdm_sex": "X", "xdm_type": "00000-0"},
    )
    assert response.status_code == 400
    errors = [li.get_text() for li in soup(response.text).select("#structured-errors li")]
    assert errors == [
        "Indiquez une date de naissance valide (jj/mm/aaaa).",
        "Indiquez le sexe du patient.",
        "Choisissez le type de document.",
    ]


def test_a_plain_message_gets_no_mss_headers(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    assert compose(logged_in, to=other_user.address, subject="Simple").status_code == 303
    received = parse(wait_for_messages(stack, other_user)[0])
    assert received["X-MSS-INS"] is None and received["X-MSS-CODECDA"] is None


def test_ins_key_check() -> None:
    assert ins.valid_number(samples.NIR)
    assert not ins.valid_number(samples.NIR[:-1] + str((int(samples.NIR[-1]) + 1) % 10))
    assert not ins.valid_number(samples.NIR[:-1])
    corsica = ins.with_key("185072A123456")
    assert ins.valid_number(corsica) and corsica[5:7] == "2A"
    assert ins.normalise(" 2 69 02 99 341 732 ") == "2690299341732"


def test_codecda_is_each_cda_header_code() -> None:
    from webmail.trust import xdm_build

    good = samples.good_archive(2)
    other = samples.cda_with("<paragraph>x</paragraph>").replace(
        b'code="11490-0"', b'code="34112-3"'
    )
    headers = xdm_build.mss_headers(
        read_archive(samples.replaced(good, "IHE_XDM/SUBSET01/DOC0001.XML", other))
    )
    assert headers == {"X-MSS-INS": "O", "X-MSS-CODECDA": "34112-3,11490-0"}
    assert xdm_build.mss_headers(read_archive(samples.good_archive(1, with_cda=False))) == {
        "X-MSS-INS": "O"
    }


def test_a_refused_send_keeps_the_archive_and_the_resend_its_headers(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    from tests.conftest import new_user

    first = compose(
        logged_in,
        files=pdfs(("lettre.pdf", PDF_A)),
        to="inconnu@infirmier.mssante.test",
        xdm_cda="1",
        **IDENTITY,
    )
    assert first.status_code == 422, first.text
    page = soup(first.text)
    kept = [k.get_text(" ", strip=True) for k in page.select(".kept-file")]
    assert len(kept) == 1 and kept[0].startswith("IHE_XDM.ZIP")
    assert form_value(first.text, "subject").startswith("XDM/1.0/DDM+Lettre de liaison LEFÈVRE")
    # The section is empty again: the archive is built, and kept as a file.
    assert form_value(first.text, "xdm_family") == ""
    corrected = new_user(stack, "infirmier.mssante.test")
    assert submit(logged_in, first.text, to=corrected.address).status_code == 303
    received = parse(wait_for_messages(stack, corrected)[0])
    assert received["X-MSS-INS"] == "O" and received["X-MSS-CODECDA"] == "11490-0"
    archive = read_archive(xdm_part(received))
    assert [archive.contents[d.number] for d in archive.documents if d.is_pdf] == [PDF_A]


def test_an_archive_over_the_limit_keeps_the_identity(
    settings: Settings, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    import dataclasses
    import os

    small = dataclasses.replace(settings, max_upload_bytes=300_000)
    heavy = b"%PDF-1.4\n" + os.urandom(200_000)
    with TestClient(
        create_app(small), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        login(client, user)
        response = compose(
            client,
            files=pdfs(("scanner.pdf", heavy)),
            to=other_user.address,
            xdm_cda="1",
            **IDENTITY,
        )
        assert response.status_code == 400
        page = soup(response.text)
        [error] = [li.get_text() for li in page.select("#structured-errors li")]
        assert (
            error.startswith("Le document structuré dépasse")
            and "décochez l'ajout des documents CDA" in error
        )
        assert form_value(response.text, "xdm_family") == "Lefèvre"
        assert "scanner.pdf" in page.select_one(".structured-kept").get_text()
        # Without the CDA it fits: sent from the PDF kept in Drafts.
        fixed = submit(
            client, response.text, xdm_cda="", xdm_sex="F", xdm_ins_kind="NIR", xdm_type="11490-0"
        )
        assert fixed.status_code == 303, fixed.text
    archive = read_archive(xdm_part(parse(wait_for_messages(stack, other_user)[0])))
    assert [archive.contents[d.number] for d in archive.documents] == [heavy]
