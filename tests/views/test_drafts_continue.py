"""The Drafts list offers "Continuer" on each draft, and a reply continued from its draft
still flags the original as answered once sent."""

from __future__ import annotations

from email.message import EmailMessage

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, imap_for, simple_mail, soup, wait_for_messages
from tests.views.forms import browser_form, parse, submit
from tests.views.test_drafts_open import drafts_uids


def flags_of(stack: Stack, user: MailUser, uid: int, folder: str = "INBOX") -> bytes:
    imap = imap_for(stack, user)
    try:
        imap.select(folder, readonly=True)
        return imap.uid("FETCH", str(uid), "(FLAGS)")[1][0]  # type: ignore[return-value]
    finally:
        imap.logout()


def continue_links(client: TestClient, folder: str) -> list[str]:
    page = soup(client.get(f"/mail?folder={folder}").text)
    links = page.select("li.row a.row-continue")
    assert all(link.get_text(strip=True) == "Continuer" for link in links)
    return [str(link["href"]) for link in links]


def test_each_draft_row_continues_it_and_other_folders_have_no_such_link(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    deliver(stack, user, simple_mail(other_user.address, user.address, "Pas un brouillon"))
    for subject in ("Premier", "Second"):
        form = logged_in.get("/compose").text
        assert submit(logged_in, form, subject=subject, action="save").status_code == 303
    uids = drafts_uids(stack, user)
    links = continue_links(logged_in, "Drafts")
    assert sorted(links) == sorted(f"/compose/draft?folder=Drafts&uid={uid}" for uid in uids)
    opened = logged_in.get(links[0])
    assert opened.status_code == 200
    assert browser_form(opened.text)["subject"] in ("Premier", "Second")
    assert continue_links(logged_in, "INBOX") == []


def test_a_continued_reply_flags_the_original_answered(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    original = simple_mail(other_user.address, user.address, "Demande d'avis", "Votre avis ?")
    uid = deliver(stack, user, original)
    form = logged_in.get(f"/compose?mode=reply&folder=INBOX&uid={uid}").text
    saved = submit(logged_in, form, body="Je regarde.", action="save")
    assert saved.status_code == 303, saved.text
    assert b"\\Answered" not in flags_of(stack, user, uid)
    [link] = continue_links(logged_in, "Drafts")
    reopened = logged_in.get(link).text
    fields = browser_form(reopened)
    assert (fields["mode"], fields["origin_folder"], fields["origin_uid"]) == (
        "reply", "INBOX", str(uid),
    )  # fmt: skip
    assert submit(logged_in, reopened, body="Avis favorable.").status_code == 303
    [reply] = wait_for_messages(stack, other_user)
    message = parse(reply)
    assert message["In-Reply-To"] == original["Message-ID"]
    assert message["X-MSS-Answers"] is None  # recorded in the draft only, never sent
    assert b"\\Answered" in flags_of(stack, user, uid)
    assert drafts_uids(stack, user) == []


def test_a_draft_from_elsewhere_with_a_forged_note_answers_nothing(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    for note in ('["reply", "INBOX", "1 2"]', "pas du json", '["forward", "INBOX", 1]',
                 '["reply", "IN\\r\\nBOX", 1]'):  # fmt: skip
        draft = EmailMessage()
        draft["From"] = user.address
        draft["Subject"] = "Venu d'ailleurs"
        draft["X-MSS-Answers"] = note
        draft.set_content("Texte")
        uid = deliver(stack, user, draft, folder="Drafts", flags="\\Draft")
        fields = browser_form(logged_in.get(f"/compose/draft?folder=Drafts&uid={uid}").text)
        assert fields["mode"] == "new" and fields["origin_uid"] == "", note
