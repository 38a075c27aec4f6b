"""Finding Sent, Drafts, Trash, Archive on servers with and without SPECIAL-USE."""

from __future__ import annotations

from webmail.mail.folders import assign_roles, folder_entries
from webmail.mail.imap import Folder


def folder(name: str, *flags: str, delimiter: str = "/") -> Folder:
    return Folder(name=name, delimiter=delimiter, flags=frozenset(flags))


def test_special_use_wins_over_names() -> None:
    folders = [
        folder("INBOX"),
        folder("Sent"),
        folder("Éléments envoyés", "\\Sent"),
        folder("Corbeille", "\\Trash"),
    ]
    roles = assign_roles(folders)
    assert roles["sent"] == "Éléments envoyés" and roles["trash"] == "Corbeille"


def test_names_with_a_namespace_prefix_when_no_special_use() -> None:
    folders = [
        folder("INBOX", delimiter="."),
        folder("INBOX.Brouillons", delimiter="."),
        folder("INBOX.Sent Items", delimiter="."),
        folder("INBOX.Trash", delimiter="."),
    ]
    roles = assign_roles(folders)
    assert roles == {
        "inbox": "INBOX",
        "drafts": "INBOX.Brouillons",
        "sent": "INBOX.Sent Items",
        "trash": "INBOX.Trash",
    }


def test_display_order_and_depth() -> None:
    folders = [
        folder("Patients/Dupont"),
        folder("Trash", "\\Trash"),
        folder("Patients"),
        folder("INBOX"),
        folder("Sent", "\\Sent"),
        folder("Old", "\\Noselect"),
    ]
    entries = folder_entries(folders)
    assert [entry.name for entry in entries] == [
        "INBOX",
        "Sent",
        "Trash",
        "Old",
        "Patients",
        "Patients/Dupont",
    ]
    assert [entry.depth for entry in entries][-1] == 1
    assert entries[-1].label == "Dupont"
    assert not entries[3].selectable


def test_inbox_prefix_is_not_a_level() -> None:
    folders = [
        folder("INBOX", delimiter="."),
        folder("INBOX.Sent", delimiter="."),
        folder("INBOX.Patients", delimiter="."),
        folder("INBOX.Patients.Dupont", delimiter="."),
    ]
    entries = [(e.name, e.label, e.depth) for e in folder_entries(folders)]
    assert entries == [
        ("INBOX", "Boîte de réception", 0),
        ("INBOX.Sent", "Envoyés", 0),
        ("INBOX.Patients", "Patients", 0),
        ("INBOX.Patients.Dupont", "Dupont", 1),
    ]


def test_subfolders_of_inbox_on_a_server_without_prefix_are_shown_under_it() -> None:
    folders = [
        folder("Archive", "\\Archive"),
        folder("Patients"),
        folder("INBOX/À trier"),
        folder("INBOX"),
        folder("Sent", "\\Sent"),
    ]
    entries = [(e.name, e.label, e.depth) for e in folder_entries(folders)]
    assert entries == [
        ("INBOX", "Boîte de réception", 0),
        ("INBOX/À trier", "À trier", 1),
        ("Sent", "Envoyés", 0),
        ("Archive", "Archives", 0),
        ("Patients", "Patients", 0),
    ]
