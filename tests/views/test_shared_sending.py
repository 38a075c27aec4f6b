"""Writing from an organisational mailbox, through the real Postfix: its address as From, the
user as Sender, the Sent copy in its Sent, and a From the user may not use refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import (
    SECRETARY_PATTERN,
    MailUser,
    SharedMailbox,
    deliver,
    imap_for,
    login,
    new_user,
    share,
    simple_mail,
    soup,
    wait_for_messages,
)
from tests.views.forms import parse, submit
from webmail.settings import Settings


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "audit.log"


@pytest.fixture
def settings(env: dict[str, str], audit_file: Path) -> Settings:
    return Settings.from_env(
        {
            **env,
            "MSS_ORGANISATIONAL_ONLY_ACCOUNTS": SECRETARY_PATTERN,
            "MSS_AUDIT_LOG": str(audit_file),
        }
    )


def switch(client: TestClient, key: str) -> None:
    token = soup(client.get("/mail/folders").text).find("input", attrs={"name": "csrf_token"})
    response = client.post("/mail/mailbox", data={"mailbox": key, "csrf_token": token["value"]})
    assert response.status_code == 303


def from_options(html: str) -> dict[str, bool]:
    select = soup(html).find("select", attrs={"name": "from"})
    assert select is not None
    return {option["value"]: option.has_attr("selected") for option in select.find_all("option")}


def folder_count(stack: Stack, user: MailUser, folder: str) -> int:
    imap = imap_for(stack, user)
    try:
        typ, data = imap.select(folder, readonly=True)
        assert typ == "OK", data
        return int(data[0])
    finally:
        imap.logout()


def test_sending_from_the_secretariat(
    client: TestClient,
    stack: Stack,
    shared_mailbox: SharedMailbox,
    other_user: MailUser,
    audit_file: Path,
) -> None:
    owner, practitioner = shared_mailbox.owner, shared_mailbox.practitioner
    login(client, practitioner)
    switch(client, owner.address)
    form = client.get("/compose")
    # On the secretariat, the form writes from it; the own address is offered too.
    assert from_options(form.text) == {"": False, owner.address: True}
    assert soup(form.text).select_one(".copies-note") is None  # its own Sent and Drafts
    response = submit(
        client,
        form.text,
        to=other_user.address,
        subject="Convocation",
        body="Madame, votre rendez-vous est confirmé.",
        **{"from": owner.address},
    )
    assert response.status_code == 303, response.text
    received = parse(wait_for_messages(stack, other_user)[0])
    assert received["From"].addresses[0].addr_spec == owner.address
    assert received["Sender"].addresses[0].addr_spec == practitioner.address
    # Through Postfix with the secretariat as envelope sender: its bounces go back there.
    assert received["Return-Path"] == f"<{owner.address}>"
    # The copy is in the secretariat's Sent, where its team sees it; none in the own Sent.
    kept = parse(wait_for_messages(stack, owner, "Sent")[0])
    assert kept["Message-ID"] == received["Message-ID"]
    assert folder_count(stack, practitioner, "Sent") == 0
    sent = [line for line in audit_file.read_text().splitlines() if '"message_sent"' in line]
    entry = json.loads(sent[-1])
    assert entry["account"] == practitioner.address
    assert entry["target"]["sender"] == owner.address
    assert entry["target"]["mailbox"] == owner.address


def test_a_reply_from_the_secretariat_is_from_its_address(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox
) -> None:
    owner = shared_mailbox.owner
    uid = deliver(
        stack, owner, simple_mail("patient.ref@chu-demo.mssante.test", owner.address, "Question")
    )
    login(client, shared_mailbox.practitioner)
    switch(client, owner.address)
    form = client.get(
        "/compose", params={"mode": "replyall", "folder": f"shared/{owner.address}", "uid": uid}
    )
    assert form.status_code == 200
    assert from_options(form.text)[owner.address] is True
    # Reply-all leaves out the secretariat itself, not only the user.
    cc = soup(form.text).find("input", attrs={"name": "cc"})["value"]
    assert owner.address not in cc


def test_the_secretary_sends_from_the_secretariat_only(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox, other_user: MailUser
) -> None:
    owner, secretary = shared_mailbox.owner, shared_mailbox.secretary
    login(client, secretary)
    form = client.get("/compose")
    response = submit(client, form.text, to=other_user.address, subject="Rappel", body="Bonjour")
    assert response.status_code == 303, response.text
    received = parse(wait_for_messages(stack, other_user)[0])
    assert received["From"].addresses[0].addr_spec == owner.address
    assert received["Sender"].addresses[0].addr_spec == secretary.address
    # Their own address is not one they may write from.
    refused = submit(
        client, client.get("/compose").text, to=other_user.address, body="x", **{"from": ""}
    )
    assert refused.status_code == 403


@pytest.mark.parametrize("forged", ["{stranger}", "{stranger_key}", "x\r\nBcc: a@b.test"])
def test_a_forged_from_is_refused_and_nothing_is_sent(
    client: TestClient,
    stack: Stack,
    shared_mailbox: SharedMailbox,
    other_user: MailUser,
    forged: str,
) -> None:
    stranger = new_user(stack, "cabinet.mssante.test")
    login(client, shared_mailbox.practitioner)
    form = client.get("/compose")
    value = forged.format(stranger=stranger.address, stranger_key=f"shared/{stranger.address}")
    response = submit(
        client, form.text, to=other_user.address, body="Texte tapé à garder", **{"from": value}
    )
    assert response.status_code == 403
    page = soup(response.text)
    assert "Vous ne pouvez pas écrire depuis cette adresse" in page.get_text()
    assert page.find("textarea").get_text() == "Texte tapé à garder"  # never lose typed text
    with pytest.raises(AssertionError):
        wait_for_messages(stack, other_user, timeout=2)


def test_without_a_writable_sent_the_copy_stays_in_the_own_sent(
    client: TestClient, stack: Stack, other_user: MailUser
) -> None:
    owner = new_user(stack, "cabinet.mssante.test")
    colleague = new_user(stack)
    share(stack, owner, colleague, folders=("INBOX",))  # its INBOX only: no Sent, no Drafts
    login(client, colleague)
    switch(client, owner.address)
    form = client.get("/compose")
    assert from_options(form.text)[owner.address] is True
    note = soup(form.text).select_one(".copies-note")
    assert note is not None and "gardés dans votre propre boîte" in note.get_text()
    response = submit(
        client, form.text, to=other_user.address, subject="S", body="B", **{"from": owner.address}
    )
    assert response.status_code == 303, response.text
    received = parse(wait_for_messages(stack, other_user)[0])
    assert received["From"].addresses[0].addr_spec == owner.address
    assert (
        parse(wait_for_messages(stack, colleague, "Sent")[0])["Message-ID"]
        == received["Message-ID"]
    )
    assert folder_count(stack, owner, "Sent") == 0


def test_postfix_refuses_the_secretariat_address_to_someone_not_allowed(
    stack: Stack, shared_mailbox: SharedMailbox, other_user: MailUser
) -> None:
    """The server's own check stays the last word: a login without the right is refused."""
    import smtplib
    import ssl

    outsider = new_user(stack)
    with smtplib.SMTP("localhost", stack.submission, timeout=10) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=str(stack.ca_cert)))
        smtp.login(outsider.address, outsider.password)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail(
                shared_mailbox.owner.address, [other_user.address], b"Subject: x\r\n\r\nx"
            )


def test_a_new_message_form_opens_even_when_the_mailboxes_cannot_be_read(
    client: TestClient, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webmail.mail import mailboxes
    from webmail.mail.imap import ImapUnavailable

    login(client, user)

    async def unreachable(*_args: object) -> None:
        raise ImapUnavailable("dropped")

    monkeypatch.setattr(mailboxes, "reach", unreachable)
    form = client.get("/compose")
    assert form.status_code == 200
    assert soup(form.text).find("input", attrs={"name": "from"})["value"] == ""


def test_a_draft_written_in_the_secretariat_is_kept_in_its_drafts(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox
) -> None:
    owner, practitioner = shared_mailbox.owner, shared_mailbox.practitioner
    login(client, practitioner)
    switch(client, owner.address)
    form = client.get("/compose")
    saved = submit(
        client,
        form.text,
        action="save",
        to="confrere@chu-demo.mssante.test",
        body="À compléter",
        **{"from": owner.address},
    )
    assert saved.status_code == 303
    draft = parse(wait_for_messages(stack, owner, "Drafts")[0])
    assert draft["From"].addresses[0].addr_spec == owner.address
    assert folder_count(stack, practitioner, "Drafts") == 0


def test_deleting_in_the_secretariat_uses_its_own_trash(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox
) -> None:
    owner, practitioner = shared_mailbox.owner, shared_mailbox.practitioner
    uid = deliver(stack, owner, simple_mail("a@chu-demo.mssante.test", owner.address, "Doublon"))
    login(client, practitioner)
    switch(client, owner.address)
    token = soup(client.get("/mail").text).find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(
        "/mail/delete",
        data={"folder": f"shared/{owner.address}", "uid": uid, "csrf_token": token},
    )
    assert response.status_code == 303
    assert "notice=trashed" in response.headers["location"]
    assert folder_count(stack, owner, "Trash") == 1
    assert folder_count(stack, owner, "INBOX") == 0
    assert folder_count(stack, practitioner, "Trash") == 0


def test_a_form_given_back_keeps_the_mailbox_it_is_written_from(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox, other_user: MailUser
) -> None:
    owner = shared_mailbox.owner
    login(client, shared_mailbox.practitioner)
    switch(client, owner.address)
    data = {
        "to": other_user.address,
        "subject": "Rappel",
        "body": "Texte",
        "from": owner.address,
        "action": "send",
        "csrf_token": "périmé",  # a page older than the session
    }
    refused = client.post("/compose", data=data, headers={"sec-fetch-site": "same-origin"})
    assert refused.status_code == 403
    page = soup(refused.text)
    given_back = {
        field["name"]: field.get("value", "")
        for field in page.select("form[action='/compose'] input[name]")
        if field.get("type") != "file"
    }
    assert given_back["from"] == owner.address
    given_back.update(body=page.find("textarea").get_text(), action="send")
    assert client.post("/compose", data=given_back).status_code == 303
    received = parse(wait_for_messages(stack, other_user)[0])
    assert received["From"].addresses[0].addr_spec == owner.address
