"""Personal folders created, renamed and deleted, on both Dovecot flavours: an empty prefix
with "/" (the main stack), and ``INBOX.`` with "." and no SPECIAL-USE (dev/other_imap.py)."""

from __future__ import annotations

import imaplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from dev.other_imap import InboxPrefixStack
from dev.stack import Stack
from tests.conftest import MailUser, csrf_token, imap_for, login, simple_mail, soup
from tests.other_servers import other_client, other_imap_for, user_on_other_server


@dataclass
class Flavour:
    client: TestClient
    prefix: str  # where personal folders go on this server
    delimiter: str
    raw_imap: Callable[[], imaplib.IMAP4]

    def post(self, path: str, **fields: str) -> object:
        return self.client.post(path, data={"csrf_token": csrf_token(self.client), **fields})

    def server_names(self) -> set[str]:
        """Every folder name as the server holds it (modified UTF-7, undecoded)."""
        imap = self.raw_imap()
        try:
            _typ, lines = imap.list()
        finally:
            imap.logout()
        return {line.decode().rsplit(f' "{self.delimiter}" ', 1)[1].strip('"') for line in lines}

    def shown(self) -> list[str]:
        return [entry.name for entry in self.client.get("/mail/folders").context["folders"]]


@pytest.fixture(params=["dovecot", "inbox-prefix"])
def flavour(
    request: pytest.FixtureRequest, stack: Stack, client: TestClient, user: MailUser
) -> Iterator[Flavour]:
    if request.param == "dovecot":
        login(client, user)
        yield Flavour(client, "", "/", lambda: imap_for(stack, user))
        return
    other: InboxPrefixStack = request.getfixturevalue("other_imap")
    account = user_on_other_server(stack, other)
    with other_client(stack, other) as test_client:
        login(test_client, account)
        yield Flavour(test_client, "INBOX.", ".", lambda: other_imap_for(other, account))


def test_create_rename_delete_with_a_non_ascii_name(flavour: Flavour) -> None:
    created = flavour.post("/mail/folders/create", name="Résultats labo")
    assert created.status_code == 303
    name = flavour.prefix + "Résultats labo"
    # On the wire in modified UTF-7, under the server's own prefix.
    assert flavour.prefix + "R&AOk-sultats labo" in flavour.server_names()
    assert name in flavour.shown()

    child = flavour.post("/mail/folders/create", name="2026", parent=name)
    assert child.status_code == 303
    assert f"{name}{flavour.delimiter}2026" in flavour.shown()

    form = flavour.client.get("/mail/folders/rename", params={"folder": name})
    assert soup(form.text).select_one("#rename-folder input[name=name]")["value"] == (
        "Résultats labo"
    )
    renamed = flavour.post("/mail/folders/rename", folder=name, name="Biologie été")
    assert renamed.status_code == 303
    new = flavour.prefix + "Biologie été"
    shown = flavour.shown()
    assert name not in shown and new in shown
    assert f"{new}{flavour.delimiter}2026" in shown  # the subfolder followed

    # Deleting asks first, and says the subfolder goes with it.
    asked = flavour.post("/mail/folders/delete", folder=new)
    assert asked.status_code == 200
    page = soup(asked.text)
    children = [li.get_text() for li in page.select("#confirm-folder-delete .folder-children li")]
    assert children == [f"{new}{flavour.delimiter}2026"]
    assert new in flavour.shown()
    done = flavour.post("/mail/folders/delete", folder=new, confirm="yes")
    assert done.status_code == 303
    shown = flavour.shown()
    assert new not in shown and f"{new}{flavour.delimiter}2026" not in shown


@pytest.mark.parametrize(
    ("typed", "status"),
    [
        ("", 400),
        ("   ", 400),
        ("a%b", 400),
        ("tout*", 400),
        ("x" * 81, 400),
        ("INBOX", 400),
        ("..", 400),
        ("ligne\r\nA1 LOGOUT", 400),
    ],
)
def test_refused_names_keep_the_typed_text(flavour: Flavour, typed: str, status: int) -> None:
    before = flavour.server_names()
    response = flavour.post("/mail/folders/create", name=typed)
    assert response.status_code == status
    page = soup(response.text)
    assert page.select_one(".alert-error").get_text(strip=True)
    if "\r" not in typed:
        assert page.select_one("#create-folder input[name=name]")["value"] in (typed, typed.strip())
    assert flavour.server_names() == before


def test_the_separator_inside_a_name_is_refused(flavour: Flavour) -> None:
    response = flavour.post("/mail/folders/create", name=f"Patients{flavour.delimiter}Durand")
    assert response.status_code == 400
    message = soup(response.text).select_one(".alert-error").get_text()
    assert f"« {flavour.delimiter} »" in message
    assert soup(response.text).select_one("#create-folder input[name=name]")["value"] == (
        f"Patients{flavour.delimiter}Durand"
    )


def test_an_existing_name_is_refused(flavour: Flavour) -> None:
    assert flavour.post("/mail/folders/create", name="Dossiers patients").status_code == 303
    again = flavour.post("/mail/folders/create", name="dossiers patients")
    assert again.status_code == 409


def test_inbox_and_special_folders_are_not_deleted_or_renamed(flavour: Flavour) -> None:
    trash = flavour.prefix + "Trash"
    flavour.post("/mail/folders/create", name="Trash")  # by name on the server without flags
    for folder in ("INBOX", trash):
        deleted = flavour.post("/mail/folders/delete", folder=folder, confirm="yes")
        assert deleted.status_code == 403, folder
        assert soup(deleted.text).select_one(".alert-error").get_text(strip=True)
        renamed = flavour.post("/mail/folders/rename", folder=folder, name="Autre")
        assert renamed.status_code == 403
    assert trash in flavour.shown()


def test_deleting_a_folder_says_how_many_messages_go(
    stack: Stack, logged_in: TestClient, user: MailUser
) -> None:
    token = csrf_token(logged_in)
    logged_in.post("/mail/folders/create", data={"name": "Anciens", "csrf_token": token})
    imap = imap_for(stack, user)
    for subject in ("Un", "Deux"):
        raw = simple_mail("a@chu-demo.mssante.test", user.address, subject).as_bytes()
        imap.append("Anciens", None, None, raw)
    imap.logout()
    asked = logged_in.get("/mail/folders/delete", params={"folder": "Anciens"})
    text = soup(asked.text).select_one("#confirm-folder-delete").get_text(" ", strip=True)
    assert "2 messages" in text


def test_unread_counts_current_after_a_rename(
    stack: Stack, logged_in: TestClient, user: MailUser
) -> None:
    token = csrf_token(logged_in)
    logged_in.post("/mail/folders/create", data={"name": "Labo", "csrf_token": token})
    logged_in.get("/mail/folders")  # the list is cached now
    imap = imap_for(stack, user)
    imap.append("Labo", None, None, simple_mail("a@b.test", user.address, "x").as_bytes())
    imap.logout()
    logged_in.post(
        "/mail/folders/rename", data={"folder": "Labo", "name": "Bio", "csrf_token": token}
    )
    entries = {e.name: e for e in logged_in.get("/mail/folders").context["folders"]}
    assert entries["Bio"].unseen == 1


def test_folder_changes_need_the_csrf_token(logged_in: TestClient) -> None:
    response = logged_in.post("/mail/folders/create", data={"name": "Sans jeton"})
    assert response.status_code == 403
    assert "Sans jeton" not in [e.name for e in logged_in.get("/mail/folders").context["folders"]]


def test_a_folder_outside_the_mailbox_is_not_found(logged_in: TestClient) -> None:
    token = csrf_token(logged_in)
    response = logged_in.post(
        "/mail/folders/delete",
        data={"folder": "shared/x/INBOX", "confirm": "yes", "csrf_token": token},
    )
    assert response.status_code in (403, 404)
