"""Shared (organisational) mailboxes in the pages, on real Dovecot ACLs: listing with unread
counts, switching, the secretary's view, URL tampering, read-only shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import (
    READ_RIGHTS,
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
)
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


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def mail_to(user: MailUser, subject: str) -> bytes:
    return simple_mail("confrere@chu-demo.mssante.test", user.address, subject).as_bytes()


def csrf(client: TestClient) -> str:
    field = soup(client.get("/mail/folders").text).find("input", attrs={"name": "csrf_token"})
    assert field is not None
    return str(field["value"])


def switch(client: TestClient, key: str) -> Any:
    return client.post("/mail/mailbox", data={"mailbox": key, "csrf_token": csrf(client)})


def mailbox_buttons(html: str) -> list[Any]:
    return soup(html).select("#mailboxes button.mailbox")


def subjects(html: str) -> list[str]:
    return [cell.get_text(strip=True) for cell in soup(html).select(".subject")]


def current_button(html: str) -> Any:
    found = [b for b in mailbox_buttons(html) if b.get("aria-current") == "true"]
    assert len(found) == 1
    return found[0]


def count_of(button: Any) -> int | None:
    count = button.select_one(".count")
    return int(count.get_text()) if count is not None else None


def test_practitioner_sees_both_mailboxes_each_with_its_unread_count(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox
) -> None:
    owner, practitioner = shared_mailbox.owner, shared_mailbox.practitioner
    deliver(stack, owner, mail_to(owner, "Rendez-vous Mme Durand"))
    deliver(stack, owner, mail_to(owner, "Ordonnance à refaire"))
    deliver(stack, practitioner, mail_to(practitioner, "Avis cardiologique"))
    login(client, practitioner)
    page = client.get("/mail")
    assert page.status_code == 200
    buttons = mailbox_buttons(page.text)
    assert len(buttons) == 2
    own, secretariat = buttons
    assert own.get("aria-current") == "true" and secretariat.get("aria-current") is None
    assert practitioner.address in own.get_text(" ", strip=True)
    assert owner.address in secretariat.get_text(" ", strip=True)
    assert (count_of(own), count_of(secretariat)) == (1, 2)
    # Each is one form, one tap, to its own key.
    assert secretariat.find_parent("form")["action"] == "/mail/mailbox"
    assert (
        secretariat.find_parent("form").find("input", attrs={"name": "mailbox"})["value"]
        == owner.address
    )
    assert subjects(page.text) == ["Avis cardiologique"]
    # The own folder list holds nothing of the shared namespace.
    folders = [a["href"] for a in soup(page.text).select("nav.folders li a")]
    assert folders and not any("shared" in href for href in folders)


def test_switching_shows_the_secretariat_and_follows_new_mail(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox, audit_file: Path
) -> None:
    owner, practitioner = shared_mailbox.owner, shared_mailbox.practitioner
    deliver(stack, owner, mail_to(owner, "Demande de rendez-vous"))
    deliver(stack, practitioner, mail_to(practitioner, "Personnel"))
    login(client, practitioner)
    response = switch(client, owner.address)
    assert response.status_code == 303
    assert (
        response.headers["location"] == f"/mail?folder=shared%2F{owner.address.replace('@', '%40')}"
    )
    page = client.get(response.headers["location"])
    assert subjects(page.text) == ["Demande de rendez-vous"]
    assert owner.address in current_button(page.text).get_text()
    # The session remembers: the plain mailbox URL now opens the secretariat's INBOX.
    deliver(stack, owner, mail_to(owner, "Résultats à transmettre"))
    again = client.get("/mail")
    assert subjects(again.text) == ["Résultats à transmettre", "Demande de rendez-vous"]
    assert count_of(current_button(again.text)) == 2
    links = {
        a.get_text(" ", strip=True): a["href"] for a in soup(again.text).select("nav.folders li a")
    }
    assert any("Sent" in href and "shared" in href for href in links.values())
    assert all("shared" in href for href in links.values())
    # Back to the own mailbox in one tap.
    back = switch(client, "")
    assert back.headers["location"] == "/mail?folder=INBOX"
    assert subjects(client.get("/mail").text) == ["Personnel"]
    switched = [line for line in audit_lines(audit_file) if line["action"] == "mailbox_switched"]
    assert switched[0]["target"]["mailbox"] == owner.address
    read = [line for line in audit_lines(audit_file) if line["action"] == "message_read"]
    assert read == []  # listing is not reading


def test_an_unknown_mailbox_cannot_be_switched_to(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox
) -> None:
    stranger = new_user(stack, "cabinet.mssante.test")
    login(client, shared_mailbox.practitioner)
    assert switch(client, stranger.address).status_code == 404
    forged = client.post("/mail/mailbox", data={"mailbox": shared_mailbox.owner.address})
    assert forged.status_code == 403  # no CSRF token: no switch
    assert subjects(client.get("/mail").text) == []  # still on the own, empty, mailbox


def test_the_secretary_lands_on_the_secretariat_and_sees_no_personal_mailbox(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox
) -> None:
    owner, secretary = shared_mailbox.owner, shared_mailbox.secretary
    deliver(stack, owner, mail_to(owner, "Patient à rappeler"))
    deliver(stack, secretary, mail_to(secretary, "Jamais affiché"))
    login(client, secretary)
    page = client.get("/mail")
    assert page.status_code == 200
    assert subjects(page.text) == ["Patient à rappeler"]
    # One mailbox, the secretariat's, shown as the current one; no personal one.
    [only] = mailbox_buttons(page.text)
    assert only.get("aria-current") == "true" and owner.address in only.get_text()
    assert secretary.address not in soup(page.text).select_one("#mailboxes").get_text()
    assert owner.address in soup(page.text).select_one(".topbar-mailbox").get_text()
    assert subjects(client.get("/mail?folder=INBOX").text) == ["Patient à rappeler"]
    assert switch(client, "").status_code == 404  # the own mailbox is not offered
    compose = client.get("/compose")
    assert soup(compose.text).find("input", attrs={"name": "from"})["value"] == owner.address


def test_an_organisational_only_account_with_nothing_shared_is_told_so(
    client: TestClient, stack: Stack
) -> None:
    from tests.conftest import new_secretary

    login(client, new_secretary(stack))
    page = client.get("/mail")
    assert page.status_code == 403
    assert "Aucune boîte aux lettres" in soup(page.text).get_text()


@pytest.mark.parametrize(
    "folder",
    [
        "shared/{owner}",  # the secretariat, while the session is on the own mailbox
        "shared/{owner}/Sent",
        "shared/{stranger}",  # another account's INBOX, never shared
        "shared/{owner}/../{stranger}",
        "shared",
        "Sent/../../x",
        "a//b",
    ],
)
def test_folders_of_another_mailbox_are_404_on_the_own_one(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox, folder: str
) -> None:
    stranger = new_user(stack, "cabinet.mssante.test")
    deliver(stack, stranger, mail_to(stranger, "Secret"))
    uid = deliver(stack, shared_mailbox.owner, mail_to(shared_mailbox.owner, "Pas d'ici"))
    login(client, shared_mailbox.practitioner)
    name = folder.format(owner=shared_mailbox.owner.address, stranger=stranger.address)
    assert client.get("/mail", params={"folder": name}).status_code == 404
    assert client.get("/mail/message", params={"folder": name, "uid": uid}).status_code == 404
    assert client.get("/mail/message/frame", params={"folder": name, "uid": 1}).status_code == 404
    assert (
        client.get("/compose", params={"mode": "reply", "folder": name, "uid": uid}).status_code
        == 404
    )


@pytest.mark.parametrize(
    "folder",
    ["Sent", "INBOX/x", "shared/{stranger}", "shared/{owner}/../{stranger}", "shared/{owner}/"],
)
def test_on_the_secretariat_nothing_outside_it_is_reachable(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox, folder: str
) -> None:
    stranger = new_user(stack, "cabinet.mssante.test")
    owner = shared_mailbox.owner
    uid = deliver(stack, owner, mail_to(owner, "Demande"))
    login(client, shared_mailbox.practitioner)
    switch(client, owner.address)
    name = folder.format(owner=owner.address, stranger=stranger.address)
    assert client.get("/mail", params={"folder": name}).status_code == 404
    token = csrf(client)
    # Moving a secretariat message out to a folder of another mailbox is refused as well.
    moved = client.post(
        "/mail/move",
        data={"folder": f"shared/{owner.address}", "uid": uid, "target": name, "csrf_token": token},
    )
    assert moved.status_code == 404
    imap = imap_for(stack, owner)
    try:
        imap.select("INBOX")
        assert imap.uid("SEARCH", "ALL")[1][0].split() == [str(uid).encode()]
    finally:
        imap.logout()


def test_a_read_only_share_offers_no_delete_and_refuses_one(
    client: TestClient, stack: Stack, audit_file: Path
) -> None:
    owner = new_user(stack, "cabinet.mssante.test")
    reader = new_user(stack)
    share(stack, owner, reader, READ_RIGHTS, ("INBOX",))
    uid = deliver(stack, owner, mail_to(owner, "Compte rendu"))
    login(client, reader)
    switch(client, owner.address)
    page = client.get("/mail/message", params={"folder": f"shared/{owner.address}", "uid": uid})
    assert page.status_code == 200
    html = soup(page.text)
    [read] = [line for line in audit_lines(audit_file) if line["action"] == "message_read"]
    assert read["target"]["mailbox"] == owner.address  # the audit trail names the mailbox
    assert read["target"]["folder"] == f"shared/{owner.address}"
    assert html.select('form[action="/mail/delete"]') == []
    assert html.select('form[action="/mail/move"]') == []
    token = csrf(client)
    for action, extra in (("/mail/delete", {}), ("/mail/move", {"target": "INBOX"})):
        refused = client.post(
            action,
            data={"folder": f"shared/{owner.address}", "uid": uid, "csrf_token": token, **extra},
        )
        assert refused.status_code == 403
        assert "pas les déplacer ni les supprimer" in soup(refused.text).get_text()
    imap = imap_for(stack, owner)
    try:
        imap.select("INBOX", readonly=True)
        assert imap.uid("SEARCH", "ALL")[1][0].split() == [str(uid).encode()]
        # Reading it did not try to mark it read: a read-only share cannot.
        assert imap.uid("SEARCH", "UNSEEN")[1][0].split() == [str(uid).encode()]
    finally:
        imap.logout()
