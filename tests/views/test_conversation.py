"""The conversation page and the list by conversation, against the real Dovecot."""

from __future__ import annotations

from email.message import EmailMessage

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, csrf_token, deliver, imap_for, login, soup
from webmail.app import create_app
from webmail.settings import Settings

FIRST_TEXT = "Pouvez-vous voir M. Durand ?\nSon bilan est joint."
REPLY_TEXT = (
    "Oui, jeudi.\n\nLe lun. 2 nov. 2026 à 10:00, Dr Martin a écrit :\n"
    "> Pouvez-vous voir M. Durand ?\n> Son bilan est joint.\n"
)


def mail(subject: str, own: str, body: str, parents: str = "", day: int = 2) -> EmailMessage:
    built = EmailMessage()
    built["From"] = "Dr Martin <dr.martin@chu-demo.mssante.test>"
    built["To"] = "x@medecin.mssante.test"
    built["Subject"] = subject
    built["Date"] = f"Mon, {day:02d} Nov 2026 10:00:00 +0100"
    built["Message-ID"] = own
    if parents:
        built["References"] = parents
        built["In-Reply-To"] = parents.split()[-1]
    built.set_content(body)
    return built


def a_conversation(stack: Stack, user: MailUser) -> list[int]:
    """A first message (read), an unrelated one, a reply quoting it, a second reply (read)."""
    return [
        deliver(stack, user, mail("Bilan", "<c1@x>", FIRST_TEXT), flags="\\Seen"),
        deliver(stack, user, mail("Autre patient", "<o1@x>", "Rien")),
        deliver(stack, user, mail("Re: Bilan", "<c2@x>", REPLY_TEXT, "<c1@x>", day=3)),
        deliver(
            stack,
            user,
            mail("Re: Bilan", "<c3@x>", "Merci.", "<c1@x> <c2@x>", day=4),
            flags="\\Seen",
        ),
    ]


def seen_on_server(stack: Stack, user: MailUser) -> set[int]:
    imap = imap_for(stack, user)
    try:
        imap.select("INBOX", readonly=True)
        _typ, data = imap.uid("SEARCH", "SEEN")
        return {int(uid) for uid in data[0].split()}
    finally:
        imap.logout()


def test_a_conversation_oldest_first_with_the_last_unread_open(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    first, other, reply, last = a_conversation(stack, user)
    page = logged_in.get(f"/mail/conversation?folder=INBOX&uid={last}")
    assert page.status_code == 200
    html = soup(page.text)
    shown = html.select(".conversation-messages > li > details.conversation-message")
    assert [item["id"] for item in shown] == [f"message-{uid}" for uid in (first, reply, last)]
    # Collapsed to their header, except the last unread one.
    assert [item.has_attr("open") for item in shown] == [False, True, False]
    quoted = shown[1].select("details.quoted")
    assert len(quoted) == 1 and not quoted[0].has_attr("open")
    assert quoted[0].select_one(".conversation-text").get_text().startswith("Le lun. 2 nov.")
    assert shown[1].select_one(".conversation-body > .conversation-text").get_text().strip() == (
        "Oui, jeudi."
    )
    assert html.select_one(".message-subject").get_text(strip=True) == "Bilan"
    # Opening it read it, as opening it alone does; the others are as they were.
    assert seen_on_server(stack, user) == {first, reply, last}
    assert other not in seen_on_server(stack, user)


def test_a_message_alone_is_a_conversation_of_one(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    _first, other, _reply, _last = a_conversation(stack, user)
    html = soup(logged_in.get(f"/mail/conversation?folder=INBOX&uid={other}").text)
    shown = html.select("details.conversation-message")
    assert len(shown) == 1 and shown[0].has_attr("open")


def test_mail_text_is_shown_as_text(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    uid = deliver(stack, user, mail("x", "<h1@x>", "<script>alert(1)</script><b>gras</b>"))
    html = soup(logged_in.get(f"/mail/conversation?folder=INBOX&uid={uid}").text)
    body = html.select_one(".conversation-text")
    assert body.get_text() == "<script>alert(1)</script><b>gras</b>\n"
    assert body.find("script") is None and body.find("b") is None


def test_missing_message_and_folder(logged_in: TestClient, user: MailUser) -> None:
    assert logged_in.get("/mail/conversation?folder=INBOX&uid=999").status_code == 404
    assert logged_in.get("/mail/conversation?folder=Nulle-part&uid=1").status_code == 404
    assert logged_in.get("/mail/conversation?folder=INBOX&uid=abc").status_code in (400, 404)


def choose(client: TestClient, mode: str) -> int:
    answer = client.post(
        "/mail/conversations/mode",
        data={"csrf_token": csrf_token(client), "mode": mode, "next": "/mail?folder=INBOX"},
    )
    return answer.status_code


def test_the_list_by_conversation_is_each_users_choice_kept_on_the_server(
    logged_in: TestClient, settings: Settings, stack: Stack, user: MailUser
) -> None:
    first, other, reply, last = a_conversation(stack, user)
    rows = soup(logged_in.get("/mail").text).select(".rows > li")
    assert [int(row["data-uid"]) for row in rows] == [last, reply, other, first]
    assert choose(logged_in, "conversations") == 303
    rows = soup(logged_in.get("/mail").text).select(".rows > li")
    assert [int(row["data-uid"]) for row in rows] == [last, other]
    assert rows[0].select_one(".thread-count").get_text() == "3"
    assert rows[0].select_one("a.row-link")["href"].startswith("/mail/conversation?")
    assert rows[1].select_one(".thread-count") is None
    assert rows[1].select_one("a.row-link")["href"].startswith("/mail/message?")
    # Another browser of the same user lists by conversation too.
    with TestClient(create_app(settings), follow_redirects=False) as other_browser:
        login(other_browser, user)
        assert len(soup(other_browser.get("/mail").text).select(".rows > li")) == 2
    assert choose(logged_in, "messages") == 303
    assert len(soup(logged_in.get("/mail").text).select(".rows > li")) == 4


def test_an_unknown_list_mode_is_refused(logged_in: TestClient) -> None:
    assert choose(logged_in, "everything") == 400
