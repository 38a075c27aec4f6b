"""Actions on one message and on a selection, against the real Dovecot."""

from __future__ import annotations

import imaplib

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import (
    READ_RIGHTS,
    MailUser,
    csrf_token,
    deliver,
    imap_for,
    login,
    new_user,
    share,
    simple_mail,
    soup,
)


def three(stack: Stack, user: MailUser, folder: str = "INBOX") -> list[int]:
    return [
        deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, s), folder)
        for s in ("Un", "Deux", "Trois")
    ]


def flags_of(imap: imaplib.IMAP4, folder: str) -> dict[int, set[str]]:
    imap.select(f'"{folder}"', readonly=True)
    _typ, data = imap.uid("FETCH", "1:*", "(FLAGS)")
    out: dict[int, set[str]] = {}
    for line in data:
        if not line:
            continue
        text = line.decode()
        uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
        out[uid] = set(text.split("FLAGS (", 1)[1].split(")", 1)[0].split())
    return out


def post(client: TestClient, path: str, **fields: object) -> object:
    return client.post(path, data={"csrf_token": csrf_token(client), **fields})


def test_rows_have_a_labelled_checkbox_in_the_selection_form(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uids = three(stack, user)
    page = soup(logged_in.get("/mail").text)
    boxes = page.select("li.row input[type=checkbox][name=uid]")
    assert sorted(int(box["value"]) for box in boxes) == uids
    for box in boxes:
        assert box["form"] == "selection-form"
        assert box.find_parent("label").get_text(strip=True)
    bar = page.select_one("form#selection-form")
    assert bar["method"] == "post" and bar["action"] == "/mail/selection"
    assert {b["value"] for b in bar.select("button[name=action]")} >= {
        "read",
        "unread",
        "flag",
        "unflag",
        "archive",
        "delete",
        "move",
    }


@pytest.mark.parametrize(
    ("action", "flag", "present"),
    [
        ("read", "\\Seen", True),
        ("flag", "\\Flagged", True),
    ],
)
def test_flag_actions_on_a_selection(
    logged_in: TestClient, stack: Stack, user: MailUser, action: str, flag: str, present: bool
) -> None:
    uids = three(stack, user)
    response = post(logged_in, "/mail/selection", folder="INBOX", action=action, uid=uids[:2])
    assert response.status_code == 303
    imap = imap_for(stack, user)
    flags = flags_of(imap, "INBOX")
    imap.logout()
    assert [flag in flags[uid] for uid in uids] == [True, True, False]
    undone = post(logged_in, "/mail/selection", folder="INBOX", action="un" + action, uid=uids)
    assert undone.status_code == 303
    imap = imap_for(stack, user)
    assert not any(flag in f for f in flags_of(imap, "INBOX").values())
    imap.logout()


def test_one_command_per_action(
    logged_in: TestClient, stack: Stack, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    uids = three(stack, user)
    from webmail.mail.imap import ImapClient

    seen: list[tuple[str, tuple[str, ...]]] = []
    original = ImapClient._command

    async def recording(self: ImapClient, name: str, *args: str, **kw: object) -> object:
        seen.append((name, args))
        return await original(self, name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ImapClient, "_command", recording)
    post(logged_in, "/mail/selection", folder="INBOX", action="archive", uid=uids)
    moves = [args for name, args in seen if name in ("MOVE", "COPY")]
    assert len(moves) == 1 and expand(moves[0][0]) == sorted(uids)


def expand(uid_set: str) -> list[int]:
    """The UIDs of an IMAP sequence set such as ``1:3,7``."""
    found: list[int] = []
    for part in uid_set.split(","):
        low, _, high = part.partition(":")
        found.extend(range(int(low), int(high or low) + 1))
    return found


def test_archive_move_and_delete_a_selection(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uids = three(stack, user)
    archived = post(logged_in, "/mail/selection", folder="INBOX", action="archive", uid=uids[:1])
    assert archived.status_code == 303
    post(logged_in, "/mail/folders/create", name="Labo")
    moved = post(
        logged_in, "/mail/selection", folder="INBOX", action="move", target="Labo", uid=uids[1:2]
    )
    assert moved.status_code == 303
    deleted = post(logged_in, "/mail/selection", folder="INBOX", action="delete", uid=uids[2:])
    assert deleted.status_code == 303
    subjects = {
        folder: [
            m.subject
            for m in logged_in.get("/mail", params={"folder": folder}).context["page"].messages
        ]
        for folder in ("INBOX", "Archive", "Labo", "Trash")
    }
    assert subjects == {"INBOX": [], "Archive": ["Un"], "Labo": ["Deux"], "Trash": ["Trois"]}


def test_delete_in_trash_asks_then_removes_for_good(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    logged_in.get("/mail")  # the login has made Trash
    uids = three(stack, user, "Trash")
    asked = post(logged_in, "/mail/selection", folder="Trash", action="delete", uid=uids[:2])
    assert asked.status_code == 200
    form = soup(asked.text).select_one("#confirm-purge form")
    assert sorted(int(i["value"]) for i in form.select("input[name=uid]")) == uids[:2]
    assert len(logged_in.get("/mail?folder=Trash").context["page"].messages) == 3
    fields = {
        i["name"]: i["value"] for i in form.select("input[type=hidden]") if i["name"] != "uid"
    }
    done = logged_in.post(form["action"], data={**fields, "uid": uids[:2]})
    assert done.status_code == 303
    assert [m.subject for m in logged_in.get("/mail?folder=Trash").context["page"].messages] == [
        "Trois"
    ]


def test_empty_trash_asks_first(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    logged_in.get("/mail")
    three(stack, user, "Trash")
    page = soup(logged_in.get("/mail?folder=Trash").text)
    assert page.select_one("form[action='/mail/empty-trash']")
    asked = post(logged_in, "/mail/empty-trash")
    assert asked.status_code == 200 and soup(asked.text).select_one("#confirm-purge")
    assert logged_in.get("/mail?folder=Trash").context["page"].total == 3
    done = post(logged_in, "/mail/empty-trash", confirm="permanent")
    assert done.status_code == 303
    assert logged_in.get("/mail?folder=Trash").context["page"].total == 0


def test_mark_all_read_and_unread_counts(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    three(stack, user)
    logged_in.get("/mail")
    assert post(logged_in, "/mail/read-all", folder="INBOX").status_code == 303
    entries = {e.name: e for e in logged_in.get("/mail").context["folders"]}
    assert not entries["INBOX"].unseen


def test_no_selection_and_bad_uids_are_refused(logged_in: TestClient) -> None:
    assert post(logged_in, "/mail/selection", folder="INBOX", action="read").status_code == 400
    bad = post(logged_in, "/mail/selection", folder="INBOX", action="read", uid=["1", "1:*"])
    assert bad.status_code == 400
    assert (
        post(logged_in, "/mail/selection", folder="INBOX", action="nuke", uid="1").status_code
        == 400
    )


def test_selection_needs_the_csrf_token(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uids = three(stack, user)
    refused = logged_in.post(
        "/mail/selection", data={"folder": "INBOX", "action": "delete", "uid": uids}
    )
    assert refused.status_code == 403
    assert logged_in.get("/mail").context["page"].total == 3


def test_a_read_only_shared_mailbox_refuses_changes(stack: Stack, client: TestClient) -> None:
    owner = new_user(stack, "cabinet.mssante.test")
    reader = new_user(stack)
    share(stack, owner, reader, READ_RIGHTS, ("INBOX",))
    uids = three(stack, owner)
    login(client, reader)
    client.post("/mail/mailbox", data={"mailbox": owner.address, "csrf_token": csrf_token(client)})
    inbox = f"shared/{owner.address}"
    for action in ("read", "flag", "archive", "delete"):
        response = post(client, "/mail/selection", folder=inbox, action=action, uid=uids)
        assert response.status_code == 403, action
        assert soup(response.text).select_one("main").get_text(strip=True)
    assert post(client, "/mail/read-all", folder=inbox).status_code == 403
    imap = imap_for(stack, owner)
    assert all(not f for f in flags_of(imap, "INBOX").values())
    assert len(flags_of(imap, "INBOX")) == 3
    imap.logout()
