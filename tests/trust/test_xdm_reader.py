"""An IHE_XDM.ZIP in the reader: the documents listed with the patient, CDA and PDF opened."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail, soup
from tests.trust import xdm_samples as samples
from webmail.mail.sanitize import frame_csp

SUBJECT = "XDM/1.0/DDM+Lettre de liaison LEFÈVRE Anne-Sophie 03/02/1969"


def xdm_mail(to: str, archive: bytes, *, filename: str = "IHE_XDM.ZIP") -> EmailMessage:
    message = simple_mail(
        "dr.martin@chu-demo.mssante.test", to, SUBJECT, "Lettre de liaison ci-jointe."
    )
    message["X-MSS-INS"] = "O"
    message.add_attachment(archive, maintype="application", subtype="zip", filename=filename)
    return message


def links(page_html: str, css: str) -> list[str]:
    return [a["href"] for a in soup(page_html).select(css)]


def test_documents_listed_with_the_patient(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, xdm_mail(user.address, samples.good_archive(2)))
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    block = soup(page.text).select_one("section.structured-documents")
    assert block.select_one("h3").get_text(strip=True) == "Documents structurés"
    assert block.select_one(".xdm-patient-name").get_text(strip=True) == "LEFÈVRE Anne-Sophie"
    assert block.select_one(".xdm-birth").get_text(strip=True) == "03/02/1969"
    ins = block.select_one(".xdm-ins").get_text(" ", strip=True)
    assert ins == f"{samples.NIR} NIR"
    documents = block.select("li.xdm-document")
    assert len(documents) == 4  # two PDFs, each with its CDA
    for item in documents:
        assert (
            item.select_one(".xdm-type").get_text(" ", strip=True).startswith("Lettre de liaison")
        )
        assert item.select_one(".xdm-author").get_text(strip=True) == "Dr Jean Martin"
        assert item.select_one(".xdm-date").get_text(strip=True) == "mardi 24 novembre 2026 à 10:30"
        assert item.select_one(".xdm-size") is not None
        assert item.select_one(".xdm-warning") is None
    assert [d.select_one(".xdm-format").get_text() for d in documents] == [
        "CDA",
        "PDF",
        "CDA",
        "PDF",
    ]
    assert len(block.select("a.xdm-open")) == 2 and len(block.select("a.xdm-preview")) == 2
    # The technical prefix is hidden in the reader and in the list.
    assert soup(page.text).select_one(".message-subject").get_text(" ", strip=True) == (
        "XDM Lettre de liaison LEFÈVRE Anne-Sophie 03/02/1969"
    )
    assert soup(page.text).title.get_text(strip=True).startswith("Lettre de liaison LEFÈVRE")
    listing = logged_in.get("/mail?folder=INBOX")
    shown = soup(listing.text).get_text(" ", strip=True)
    assert "Lettre de liaison LEFÈVRE Anne-Sophie" in shown and "XDM/1.0/DDM+" not in shown


def test_cda_page_pdf_preview_and_download(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, xdm_mail(user.address, samples.good_archive(1)))
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    [cda_link] = links(page.text, "a.xdm-open")
    [preview_link] = links(page.text, "a.xdm-preview")
    downloads = links(page.text, "a.xdm-download")

    cda = logged_in.get(cda_link)
    assert cda.status_code == 200
    tree = soup(cda.text)
    assert (
        tree.select_one(".cda-title").get_text(" ", strip=True).startswith("CDA Lettre de liaison")
    )
    assert tree.select_one(".cda-patient").get_text(strip=True) == "LEFÈVRE Anne-Sophie"
    assert tree.select_one(".cda-ins").get_text(strip=True) == f"{samples.NIR} (NIR)"
    assert tree.select_one(".cda-author").get_text(strip=True) == "Dr Jean Martin"
    # A CDA "non structuré" built here: no narrative, the PDF it embeds instead.
    assert tree.select_one("iframe") is None
    assert tree.select_one(".cda-embedded").get_text(strip=True) == (
        "Le contenu de ce document est un fichier joint (application/pdf)."
    )
    embedded = logged_in.get(tree.select_one("a.cda-embedded-pdf")["href"])
    assert embedded.content == samples.pdf("Document 1")
    assert embedded.headers["content-type"] == "application/pdf"

    preview = logged_in.get(preview_link)
    assert preview.status_code == 200
    assert preview.content == samples.pdf("Document 1")
    assert preview.headers["content-type"] == "application/pdf"
    assert preview.headers["content-disposition"].startswith("inline;")
    assert preview.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in preview.headers["content-security-policy"]

    pdf_download = logged_in.get(downloads[1])
    assert pdf_download.content == samples.pdf("Document 1")
    assert pdf_download.headers["content-disposition"].startswith("attachment;")
    cda_download = logged_in.get(downloads[0])
    assert cda_download.headers["content-type"] == "application/octet-stream"  # never rendered
    assert cda_download.content.startswith(b"<?xml")


def test_hostile_cda_is_neutralised_in_its_page(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    hostile = samples.cda_with(
        "<paragraph onclick='steal()'>Texte<script>alert(1)</script></paragraph>"
        "<linkHtml href='javascript:alert(2)'>lien</linkHtml>"
        "<renderMultiMedia referencedObject='MM1'/>"
    )
    archive = samples.replaced(samples.good_archive(1), "IHE_XDM/SUBSET01/DOC0001.XML", hostile)
    uid = deliver(stack, user, xdm_mail(user.address, archive))
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    first = soup(page.text).select("li.xdm-document")[0]
    assert first.select_one(".xdm-warning").get_text(strip=True).startswith("l'empreinte")
    cda = soup(logged_in.get(links(page.text, "a.xdm-open")[0]).text)
    warning = cda.select_one(".cda-warning").get_text(" ", strip=True)
    assert (
        warning == "Attention : l'empreinte du document ne correspond pas à celle des métadonnées"
    )
    assert cda.select_one(".cda-patient").get_text(strip=True) == "LEFÈVRE Anne-Sophie"
    frame = cda.select_one("iframe#cda-frame")
    assert frame["sandbox"] == [
        "allow-same-origin",
        "allow-popups",
        "allow-popups-to-escape-sandbox",
    ]
    narrative = logged_in.get(frame["src"])
    assert narrative.status_code == 200
    assert narrative.headers["content-security-policy"] == frame_csp(allow_remote_images=False)
    tree = soup(narrative.text)
    assert tree.find("script") is None and tree.find("img") is None
    assert all(not k.startswith("on") for e in tree.find_all(True) for k in e.attrs)
    assert not [a for a in tree.find_all("a") if "javascript" in a.get("href", "")]
    assert tree.select_one("div h2").get_text() == "Motif"
    assert tree.select_one("div p").get_text() == "Textealert(1)"
    assert tree.select_one("div em").get_text() == "[image non affichée]"


def test_hostile_archive_says_why_and_the_mail_still_opens(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    bomb = samples.with_members(samples.good_archive(1), [("../../etc/cron.d/evil", b"x")])
    uid = deliver(stack, user, xdm_mail(user.address, bomb))
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    tree = soup(page.text)
    assert tree.select_one("pre.text-body").get_text(strip=True) == "Lettre de liaison ci-jointe."
    refusal = tree.select_one(".xdm-refused").get_text(" ", strip=True)
    assert refusal.startswith("Cette archive n'a pas été ouverte : chemin interdit dans l'archive.")
    assert tree.select_one("section.attachments a.attachment") is not None  # still downloadable


def test_entity_attack_in_metadata_is_refused_in_the_page(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    archive = samples.replaced(
        samples.good_archive(1), "IHE_XDM/SUBSET01/METADATA.XML", samples.BILLION_LAUGHS
    )
    uid = deliver(stack, user, xdm_mail(user.address, archive))
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert "XML refusé" in soup(page.text).select_one(".xdm-refused").get_text()


def test_only_an_archive_named_ihe_xdm_is_opened(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(
        stack, user, xdm_mail(user.address, samples.good_archive(1), filename="autre.zip")
    )
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert soup(page.text).select_one("section.structured-documents") is None
    lower = deliver(
        stack, user, xdm_mail(user.address, samples.good_archive(1), filename="ihe_xdm.zip")
    )
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={lower}")
    assert soup(page.text).select_one("section.structured-documents") is not None


def test_document_urls_are_checked(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    uid = deliver(stack, user, xdm_mail(user.address, samples.good_archive(1)))
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    href = links(page.text, "a.xdm-preview")[0]
    params = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
    base = "/mail/xdm/file?folder=INBOX&uid={uid}&part={part}&doc={doc}"
    assert logged_in.get(base.format(uid=uid, part=params["part"], doc="9")).status_code == 404
    assert (
        logged_in.get(base.format(uid=uid, part="1", doc="1")).status_code == 404
    )  # the text part
    assert (
        logged_in.get(base.format(uid=uid, part=params["part"], doc="1") + "&preview=1").status_code
        == 404
    )  # a CDA
    assert (
        logged_in.get(
            f"/mail/xdm/document?folder=INBOX&uid={uid}&part={params['part']}&doc=2"
        ).status_code
        == 404
    )
    logged_in.cookies.clear()
    assert logged_in.get(href).status_code == 303  # to the login page
