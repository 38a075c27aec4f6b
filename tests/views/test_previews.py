"""Previews of PDF and image attachments: offered for the allow-list, served with the type
the bytes show, refused when the bytes are something else, never able to run in our origin."""

from __future__ import annotations

from email.message import EmailMessage

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail, soup
from webmail.mail.previews import sniffed

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML = b"<html><body><script>parent.document.title='pwned'</script>bonjour</body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
EXPECTED_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "object-src 'self'"
)


def with_files(to: str, *files: tuple[bytes, str, str]) -> EmailMessage:
    message = simple_mail("labo@labo-demo.mssante.test", to, "Résultats")
    for content, content_type, name in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message


def listed(client: TestClient, uid: int) -> dict[str, str | None]:
    """Each attachment's name, and its "Aperçu" link if it has one."""
    page = soup(client.get(f"/mail/message?folder=INBOX&uid={uid}").text)
    found: dict[str, str | None] = {}
    for item in page.select(".attachments li"):
        name = item.select_one(".att-name")
        link = item.select_one("a.att-preview")
        assert name is not None
        found[name.get_text()] = str(link["href"]) if link is not None else None
        if link is not None:
            assert link["target"] == "_blank" and "noopener" in str(link["rel"])
    return found


def test_pdf_and_image_previews_are_inline_and_sandboxed(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(
        stack,
        user,
        with_files(
            user.address,
            (PDF, "application/pdf", "bilan été.pdf"),
            (PNG, "image/png", "radio.png"),
            (b"PK\x03\x04 lettre", "application/vnd.oasis.opendocument.text", "lettre.odt"),
        ),
    )
    links = listed(logged_in, uid)
    assert links["lettre.odt"] is None  # downloads only, as before
    pdf = logged_in.get(str(links["bilan été.pdf"]))
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith('inline; filename="bilan _t_.pdf"')
    assert "filename*=UTF-8''bilan%20%C3%A9t%C3%A9.pdf" in pdf.headers["content-disposition"]
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-security-policy"].startswith(EXPECTED_CSP)
    assert pdf.headers["cache-control"] == "no-store"
    png = logged_in.get(str(links["radio.png"]))
    assert png.content == PNG and png.headers["content-type"] == "image/png"


def test_the_type_comes_from_the_bytes_never_from_the_label(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(
        stack,
        user,
        with_files(
            user.address,
            (HTML, "application/pdf", "resultats.pdf"),  # HTML dressed as a PDF
            (SVG, "image/png", "logo.png"),  # SVG dressed as PNG
            (PNG, "image/jpeg", "photo.jpg"),  # a PNG labelled JPEG: shown as what it is
            (SVG, "image/svg+xml", "schema.svg"),
            (HTML, "text/html", "page.html"),
        ),
    )
    links = listed(logged_in, uid)
    assert links["schema.svg"] is None and links["page.html"] is None
    for name in ("resultats.pdf", "logo.png"):
        refused = logged_in.get(str(links[name]))
        assert refused.status_code == 415, name
        assert b"<script>parent" not in refused.content and b"<svg" not in refused.content
        assert refused.headers["content-type"].startswith("text/html")  # our error page only
    photo = logged_in.get(str(links["photo.jpg"]))
    assert photo.headers["content-type"] == "image/png"
    # Asked directly, a part outside the allow-list is never previewed either.
    for part in ("5", "6"):
        direct = logged_in.get(f"/mail/preview?folder=INBOX&uid={uid}&part={part}")
        assert direct.status_code == 415
    assert logged_in.get(f"/mail/preview?folder=INBOX&uid={uid}&part=9").status_code == 404


def test_a_large_pdf_is_streamed_exactly(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    big = b"%PDF-1.7\n" + bytes(range(256)) * 4000 + b"\n%%EOF\n"  # 1 MB: several slices
    uid = deliver(stack, user, with_files(user.address, (big, "application/pdf", "scan.pdf")))
    link = listed(logged_in, uid)["scan.pdf"]
    with logged_in.stream("GET", str(link)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert "content-length" not in response.headers  # streamed, never held whole
        body = b"".join(response.iter_bytes())
    assert body == big


def test_another_mailbox_cannot_be_previewed(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    assert logged_in.get("/mail/preview?folder=shared/x/INBOX&uid=1&part=2").status_code == 404
    assert logged_in.get("/mail/preview?folder=INBOX&uid=abc&part=2").status_code == 400


def test_signatures() -> None:
    assert sniffed(b"%PDF-1.4") == "application/pdf"
    assert sniffed(b"GIF89a...") == "image/gif"
    assert sniffed(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniffed(b"\xff\xd8\xff\xe0") == "image/jpeg"
    for hostile in (b"", b" %PDF-1.4", b"<svg", b"<!DOCTYPE html>", b"RIFF\x00\x00\x00\x00WAVE"):
        assert sniffed(hostile) is None
