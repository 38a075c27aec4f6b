"""The webmail in front of another vendor's IMAP server: INBOX alone at first, an ``INBOX.``
namespace with ``.``, no SPECIAL-USE nor SORT, bare user names; mail sent by the main Postfix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from dev.other_imap import InboxPrefixStack
from dev.stack import Stack
from tests.conftest import (
    MailUser,
    csrf_token,
    login,
    post_password,
    simple_mail,
    soup,
    wait_for_messages,
)
from tests.other_servers import folder_names, other_client, other_imap_for, user_on_other_server


@dataclass
class Account:
    client: TestClient
    user: MailUser
    other: InboxPrefixStack

    def deliver(self, subject: str, folder: str = "INBOX") -> int:
        imap = other_imap_for(self.other, self.user)
        try:
            raw = simple_mail("secretariat@chu-demo.mssante.test", self.user.address, subject)
            typ, data = imap.append(f'"{folder}"', None, None, raw.as_bytes())
            assert typ == "OK", data
            return int(data[0].decode().split("APPENDUID", 1)[1].split()[1].rstrip("]"))
        finally:
            imap.logout()

    def uids(self, folder: str) -> list[int]:
        imap = other_imap_for(self.other, self.user)
        try:
            imap.select(f'"{folder}"', readonly=True)
            return [int(uid) for uid in imap.uid("SEARCH", "ALL")[1][0].split()]
        finally:
            imap.logout()

    def folders(self) -> set[str]:
        return folder_names(self.other, self.user)

    def forbid_new_folders(self) -> None:
        self.other.forbid_new_folders(self.user.address, self.user.password)

    def post(self, path: str, **fields: str | int) -> object:
        return self.client.post(path, data={"csrf_token": csrf_token(self.client), **fields})


@pytest.fixture
def account(stack: Stack, other_imap: InboxPrefixStack) -> Iterator[Account]:
    user = user_on_other_server(stack, other_imap)
    with other_client(stack, other_imap) as client:
        login(client, user)
        yield Account(client, user, other_imap)


def compose(account: Account, action: str, **fields: str) -> object:
    return account.post("/compose", mode="new", action=action, **fields)


# -- login -------------------------------------------------------------------------------------


def test_login_with_the_address_when_the_server_knows_a_bare_user_name(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    user = user_on_other_server(stack, other_imap)
    with other_client(stack, other_imap) as client:
        login(client, user)
        Account(client, user, other_imap).deliver("Compte rendu opératoire")
        page = client.get("/mail")
        assert page.status_code == 200
        rows = soup(page.text).select("li.row .subject")
        assert [row.get_text(" ", strip=True) for row in rows] == ["Compte rendu opératoire"]
        # Shown and sent with the address, never the login name.
        assert soup(page.text).select_one(".folders .account").get_text() == user.address
        # A reconnection (the server dropped the connection) logs in with the bare name too.
        for entry in client.app.state.services.pool._entries.values():
            entry.imap.close()
        assert client.get("/mail").status_code == 200


def test_the_same_server_refuses_the_address_as_login(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    user = user_on_other_server(stack, other_imap)
    with other_client(stack, other_imap, MSS_LOGIN_FORMAT="address") as client:
        response = post_password(client, user.address, user.password)
    assert response.status_code == 401


# -- Sent, Drafts, Trash created where this server keeps folders ---------------------------


def test_send_keeps_a_copy_in_a_created_inbox_sent(
    account: Account, stack: Stack, other_user: MailUser
) -> None:
    response = compose(account, "send", to=other_user.address, subject="Avis", body="Merci.\n")
    assert response.status_code == 303
    assert response.headers["location"] == "/mail?folder=INBOX&notice=sent"
    assert b"Subject: Avis" in wait_for_messages(stack, other_user)[0]
    assert "INBOX.Sent" in account.folders()
    assert len(account.uids("INBOX.Sent")) == 1
    # The new folder is in the list at once, with its label.
    entries = {e.name: e for e in account.client.get("/mail").context["folders"]}
    assert (entries["INBOX.Sent"].role, entries["INBOX.Sent"].label) == ("sent", "Envoyés")


def test_send_says_when_no_copy_can_be_kept(
    account: Account, stack: Stack, other_user: MailUser
) -> None:
    account.forbid_new_folders()
    response = compose(account, "send", to=other_user.address, subject="Sans copie", body="Texte\n")
    assert response.status_code == 303
    assert b"Subject: Sans copie" in wait_for_messages(stack, other_user)[0]
    page = account.client.get(response.headers["location"])
    warning = soup(page.text).select_one(".alert-warning")
    assert warning is not None and soup(page.text).select_one(".alert-ok") is None
    assert warning.get_text(strip=True) == (
        "Le message a été envoyé, mais aucune copie n'a pu être gardée : le dossier Envoyés "
        "n'existe pas et le serveur refuse de le créer."
    )


def test_save_draft_creates_inbox_drafts(account: Account) -> None:
    response = compose(account, "save", to="x@chu-demo.mssante.test", subject="Brouillon")
    assert response.status_code == 303
    assert response.headers["location"] == "/mail?folder=INBOX&notice=draft"
    assert len(account.uids("INBOX.Drafts")) == 1


def test_save_draft_where_drafts_cannot_be_created_says_so_and_keeps_the_text(
    account: Account,
) -> None:
    account.forbid_new_folders()
    response = compose(
        account, "save", to="x@chu-demo.mssante.test", subject="À garder", body="Mon texte.\n"
    )
    assert response.status_code == 502
    page = soup(response.text)
    assert page.select_one(".alert-error").get_text(strip=True) == (
        "Le brouillon n'a pas pu être enregistré : le dossier Brouillons n'existe pas et le "
        "serveur refuse de le créer."
    )
    assert "injoignable" not in page.select_one(".alert-error").get_text()
    assert page.select_one("input[name=subject]")["value"] == "À garder"
    assert page.select_one("textarea[name=body]").get_text() == "Mon texte.\n"


def test_delete_moves_to_a_created_inbox_trash(account: Account) -> None:
    uid = account.deliver("À supprimer")
    response = account.post("/mail/delete", folder="INBOX", uid=uid)
    assert response.status_code == 303
    assert response.headers["location"] == "/mail?folder=INBOX&notice=trashed"
    assert account.uids("INBOX") == []
    assert len(account.uids("INBOX.Trash")) == 1


def test_delete_without_a_possible_trash_asks_before_deleting_for_good(
    account: Account,
) -> None:
    uid = account.deliver("Résultats")
    account.forbid_new_folders()
    asked = account.post("/mail/delete", folder="INBOX", uid=uid)
    assert asked.status_code == 200
    assert asked.template.name == "pages/confirm_delete.html"
    form = soup(asked.text).select_one("#confirm-delete form")
    fields = {field["name"]: field.get("value") for field in form.select("input")}
    assert fields["confirm"] == "permanent" and fields["uid"] == str(uid)
    assert fields["folder"] == "INBOX"
    assert account.uids("INBOX") == [uid]  # nothing deleted yet

    done = account.post("/mail/delete", folder="INBOX", uid=uid, confirm="permanent")
    assert done.status_code == 303
    assert done.headers["location"] == "/mail?folder=INBOX&notice=deleted"
    assert account.uids("INBOX") == []


# -- other differences ----------------------------------------------------------------------


def test_folders_under_the_inbox_prefix_have_their_depth_and_labels(account: Account) -> None:
    imap = other_imap_for(account.other, account.user)
    for name in ("INBOX.Sent", "INBOX.Patients", "INBOX.Patients.Dupont", "INBOX.Trash"):
        assert imap.create(f'"{name}"')[0] == "OK"
    imap.logout()
    page = account.client.get("/mail")
    entries = [(e.name, e.role, e.label, e.depth) for e in page.context["folders"]]
    assert entries == [
        ("INBOX", "inbox", "Boîte de réception", 0),
        ("INBOX.Sent", "sent", "Envoyés", 0),
        ("INBOX.Trash", "trash", "Corbeille", 0),
        ("INBOX.Patients", None, "Patients", 0),
        ("INBOX.Patients.Dupont", None, "Dupont", 1),
    ]
    shown = [
        (item["class"][0], item.select_one(".folder-name").get_text(strip=True))
        for item in soup(page.text).select(".folders li")
    ]
    assert shown[-2:] == [("depth-0", "Patients"), ("depth-1", "Dupont")]


def test_move_to_inbox_archive(account: Account) -> None:
    imap = other_imap_for(account.other, account.user)
    assert imap.create('"INBOX.Archive"')[0] == "OK"
    imap.logout()
    uid = account.deliver("À archiver")
    page = account.client.get("/mail/message", params={"folder": "INBOX", "uid": uid})
    selected = soup(page.text).select_one("#move-target option[selected]")
    assert selected["value"] == "INBOX.Archive"
    moved = account.post("/mail/move", folder="INBOX", uid=uid, target="INBOX.Archive")
    assert moved.status_code == 303
    assert account.uids("INBOX") == [] and len(account.uids("INBOX.Archive")) == 1


def test_list_without_sort_is_newest_first(account: Account) -> None:
    imap = other_imap_for(account.other, account.user)
    advertised = imap.capability()[1][0].split()
    imap.logout()
    assert b"SORT" not in advertised and b"SPECIAL-USE" not in advertised
    for subject in ("Premier", "Deuxième", "Troisième"):
        account.deliver(subject)
    page = account.client.get("/mail")
    assert [m.subject for m in page.context["page"].messages] == [
        "Troisième",
        "Deuxième",
        "Premier",
    ]


@pytest.mark.parametrize("folder", ["INBOX.Inexistant", "Inexistant", "INBOX..x"])
def test_missing_folder_is_a_clear_404(account: Account, folder: str) -> None:
    for response in (
        account.client.get("/mail", params={"folder": folder}),
        account.client.get("/mail/message", params={"folder": folder, "uid": 1}),
    ):
        assert response.status_code == 404
        assert soup(response.text).select_one(".card h1").get_text(strip=True) == "Introuvable"
