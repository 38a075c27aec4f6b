"""Folder list and message list, on a real mailbox."""

from __future__ import annotations

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, csrf_token, deliver, imap_for, simple_mail, soup


def test_folders_come_with_special_use_names_and_unread_counts(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Non lu"))
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Lu"), flags="\\Seen")
    page = logged_in.get("/mail")
    entries = {entry.name: entry for entry in page.context["folders"]}
    assert entries["INBOX"].unseen == 1
    assert entries["Sent"].label == "Envoyés"
    assert entries["Trash"].role == "trash"
    labels = [entry.label for entry in page.context["folders"]]
    assert labels[:2] == ["Boîte de réception", "Brouillons"]


def test_list_is_newest_first_with_markers(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    deliver(
        stack,
        user,
        simple_mail("old@chu-demo.mssante.test", user.address, "Ancien"),
        flags="\\Seen",
    )
    deliver(
        stack,
        user,
        simple_mail("new@chu-demo.mssante.test", user.address, "Récent"),
        flags="\\Flagged",
    )
    page = logged_in.get("/mail?folder=INBOX")
    rows = soup(page.text).select("li.row")
    assert [row.select_one(".subject").get_text(" ", strip=True) for row in rows] == [
        "Récent",
        "Ancien",
    ]
    assert "unread" in rows[0]["class"] and "unread" not in rows[1]["class"]
    assert rows[0].select_one(".flagged") is not None


def test_pages_of_fifty_never_more(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    imap = imap_for(stack, user)
    for number in range(1, 121):
        raw = simple_mail(
            "x@labo-demo.mssante.test", user.address, f"Résultat {number:03d}"
        ).as_bytes()
        imap.append("INBOX", "(\\Seen)", None, raw)
    imap.logout()
    first = logged_in.get("/mail?folder=INBOX")
    assert first.context["page"].pages == 3
    subjects = [m.subject for m in first.context["page"].messages]
    assert len(subjects) == 50 and subjects[0] == "Résultat 120" and subjects[-1] == "Résultat 071"
    last = logged_in.get("/mail?folder=INBOX&page=3")
    assert [m.subject for m in last.context["page"].messages][-1] == "Résultat 001"
    assert len(last.context["page"].messages) == 20
    # An htmx page turn gets the rows fragment alone, and says the answer varies on it.
    fragment = logged_in.get("/mail?folder=INBOX&page=2", headers={"HX-Request": "true"})
    assert fragment.template.name == "partials/_rows.html"
    assert "HX-Request" in fragment.headers["vary"]
    assert soup(fragment.text).find("html") is None


def test_new_mail_shows_up_after_the_list_was_cached(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Premier"))
    assert len(logged_in.get("/mail").context["page"].messages) == 1
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Second"))
    subjects = [m.subject for m in logged_in.get("/mail").context["page"].messages]
    assert subjects == ["Second", "Premier"]


def test_flags_changed_elsewhere_are_seen(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "À lire"))
    assert not logged_in.get("/mail").context["page"].messages[0].seen
    imap = imap_for(stack, user)
    imap.select("INBOX")
    imap.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
    imap.logout()
    assert logged_in.get("/mail").context["page"].messages[0].seen


def test_unknown_folder_is_404(logged_in: TestClient) -> None:
    response = logged_in.get("/mail?folder=N'existe%20pas")
    assert response.status_code == 404
    assert soup(response.text).find("h1").get_text(strip=True) == "Introuvable"


def test_folder_with_accents_and_spaces(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    imap = imap_for(stack, user)
    imap.create(
        '"Patients/Cardiologie &AOk-t&AOk-"'
    )  # "Patients/Cardiologie été" in modified UTF-7
    imap.logout()
    names = [entry.name for entry in logged_in.get("/mail").context["folders"]]
    assert "Patients/Cardiologie été" in names
    response = logged_in.get("/mail", params={"folder": "Patients/Cardiologie été"})
    assert response.status_code == 200
    assert response.context["page"].total == 0


def test_move_and_delete(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    uid = deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "À archiver"))
    token = csrf_token(logged_in)
    moved = logged_in.post(
        "/mail/move", data={"folder": "INBOX", "uid": uid, "target": "Archive", "csrf_token": token}
    )
    assert moved.status_code == 303
    assert logged_in.get("/mail?folder=INBOX").context["page"].total == 0
    archived = logged_in.get("/mail?folder=Archive").context["page"].messages
    assert [m.subject for m in archived] == ["À archiver"]

    deleted = logged_in.post(
        "/mail/delete", data={"folder": "Archive", "uid": archived[0].uid, "csrf_token": token}
    )
    assert deleted.status_code == 303
    assert logged_in.get("/mail?folder=Archive").context["page"].total == 0
    trashed = logged_in.get("/mail?folder=Trash").context["page"].messages
    assert [m.subject for m in trashed] == ["À archiver"]

    # Deleting from the Trash removes it for good, once confirmed: the browser's confirm()
    # fills in "confirm"; without script, the server asks first and deletes nothing.
    data = {"folder": "Trash", "uid": trashed[0].uid, "csrf_token": token}
    asked = logged_in.post("/mail/delete", data=data)
    assert asked.status_code == 200
    confirm = soup(asked.text).select_one("#confirm-delete form")
    assert confirm.select_one("input[name=confirm]")["value"] == "permanent"
    assert [m.subject for m in logged_in.get("/mail?folder=Trash").context["page"].messages] == [
        "À archiver"
    ]
    logged_in.post("/mail/delete", data={**data, "confirm": "permanent"})
    imap = imap_for(stack, user)
    imap.select("Trash")
    assert imap.uid("SEARCH", "ALL")[1] == [b""]
    imap.logout()


def test_move_to_a_missing_folder_is_404(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Reste là"))
    response = logged_in.post(
        "/mail/move",
        data={
            "folder": "INBOX",
            "uid": uid,
            "target": "Nulle part",
            "csrf_token": csrf_token(logged_in),
        },
    )
    assert response.status_code == 404
    assert logged_in.get("/mail").context["page"].total == 1


def test_bad_page_number_is_400(logged_in: TestClient) -> None:
    assert logged_in.get("/mail?page=abc").status_code == 400
