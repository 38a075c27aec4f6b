"""Annuler after a deletion, a move, an archive or marking read: the same messages come back
with their flags, once, within the window, and only for the session that acted."""

from __future__ import annotations

import imaplib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dev.other_imap import InboxPrefixStack
from dev.stack import Stack
from tests.conftest import MailUser, csrf_token, deliver, imap_for, login, simple_mail, soup
from tests.other_servers import other_client, other_imap_for, user_on_other_server
from webmail.app import create_app
from webmail.settings import Settings


def delivered(stack: Stack, user: MailUser) -> dict[str, int]:
    """Three messages with different flags: Message-ID -> UID."""
    found = {}
    for subject, flags in (("Un", "\\Seen \\Flagged"), ("Deux", "$Label1"), ("Trois", "")):
        message = simple_mail("a@chu-demo.mssante.test", user.address, subject)
        found[str(message["Message-ID"])] = deliver(stack, user, message, flags=flags)
    return found


def state(imap: imaplib.IMAP4, folder: str) -> dict[str, frozenset[str]]:
    """Message-ID -> flags, as the server holds them."""
    imap.select(f'"{folder}"', readonly=True)
    _typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, header = item
        flags = meta.decode().split("FLAGS (", 1)[1].split(")", 1)[0].split()
        message_id = header.decode().partition(":")[2].strip()
        out[message_id] = frozenset(f for f in flags if f != "\\Recent")
    return out


def held(stack: Stack, user: MailUser, folder: str) -> dict[str, frozenset[str]]:
    imap = imap_for(stack, user)
    try:
        return state(imap, folder)
    finally:
        imap.logout()


def post(client: TestClient, path: str, **fields: object) -> object:
    return client.post(path, data={"csrf_token": csrf_token(client), **fields})


def undo_token(client: TestClient, folder: str = "INBOX") -> str:
    page = soup(client.get("/mail", params={"folder": folder}).text)
    notice = page.select_one("#undo-notice")
    assert notice is not None, "no undo notice"
    return str(notice.select_one("input[name=token]")["value"])


def record_searches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    from webmail.mail.imap import ImapClient

    seen: list[tuple[str, ...]] = []
    original = ImapClient._command

    async def recording(self: ImapClient, name: str, *args: str, **kw: Any) -> Any:
        if name == "SEARCH":
            seen.append(args)
        return await original(self, name, *args, **kw)

    monkeypatch.setattr(ImapClient, "_command", recording)
    return seen


def without_uidplus(client: TestClient) -> None:
    client.get("/mail")
    for entry in client.app.state.services.pool._entries.values():  # type: ignore[attr-defined]
        entry.imap._protocol.capabilities.discard("UIDPLUS")


@pytest.mark.parametrize("uidplus", [True, False], ids=["uidplus", "no-uidplus"])
@pytest.mark.parametrize(
    ("action", "where"), [("delete", "Trash"), ("archive", "Archive"), ("move", "Labo")]
)
def test_undo_restores_the_same_messages_with_their_flags(
    logged_in: TestClient,
    stack: Stack,
    user: MailUser,
    uidplus: bool,
    action: str,
    where: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = delivered(stack, user)
    post(logged_in, "/mail/folders/create", name="Labo")
    post(logged_in, "/mail/folders/create", name="Archive")
    before = held(stack, user, "INBOX")
    assert before[next(iter(ids))] == {"\\Seen", "\\Flagged"}
    if not uidplus:
        without_uidplus(logged_in)
    chosen = sorted(ids.values())[:2]
    done = post(
        logged_in, "/mail/selection", folder="INBOX", action=action, target=where, uid=chosen
    )
    assert done.status_code == 303
    assert len(held(stack, user, where)) == 2

    page = soup(logged_in.get("/mail").text)
    notice = page.select_one("#undo-notice")
    assert "2 messages" in notice.get_text(" ", strip=True)
    assert notice.select_one("form[action='/mail/undo'] button").get_text(strip=True) == "Annuler"
    token = undo_token(logged_in)
    searches = record_searches(monkeypatch)
    undone = post(logged_in, "/mail/undo", token=token)
    assert undone.status_code == 303
    # Without UIDPLUS the moved messages are found again by their Message-IDs.
    assert len([s for s in searches if "Message-ID" in s]) == (0 if uidplus else 2)
    assert held(stack, user, "INBOX") == before
    assert held(stack, user, where) == {}


def test_undo_of_mark_read_unmarks_only_what_it_marked(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    ids = delivered(stack, user)
    before = held(stack, user, "INBOX")
    uids = sorted(ids.values())
    post(logged_in, "/mail/selection", folder="INBOX", action="read", uid=uids)
    assert all("\\Seen" in f for f in held(stack, user, "INBOX").values())
    post(logged_in, "/mail/undo", token=undo_token(logged_in))
    assert held(stack, user, "INBOX") == before


def test_undo_is_single_use(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    ids = delivered(stack, user)
    post(logged_in, "/mail/delete", folder="INBOX", uid=min(ids.values()))
    token = undo_token(logged_in)
    assert post(logged_in, "/mail/undo", token=token).status_code == 303
    again = post(logged_in, "/mail/undo", token=token)
    assert again.status_code == 410
    assert soup(again.text).select_one("main").get_text(strip=True)
    assert soup(logged_in.get("/mail").text).select_one("#undo-notice") is None


def test_undo_from_another_session_is_refused(
    logged_in: TestClient, settings: Settings, stack: Stack, user: MailUser
) -> None:
    ids = delivered(stack, user)
    post(logged_in, "/mail/delete", folder="INBOX", uid=min(ids.values()))
    token = undo_token(logged_in)
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as other:
        login(other, user)
        assert soup(other.get("/mail").text).select_one("#undo-notice") is None
        assert post(other, "/mail/undo", token=token).status_code == 410
    assert len(held(stack, user, "Trash")) == 1
    # The owner's Annuler still works: the other session's try did not spend it.
    assert post(logged_in, "/mail/undo", token=token).status_code == 303
    assert len(held(stack, user, "INBOX")) == 3


@pytest.fixture
def short_window(env: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings.from_env({**env, "MSS_UNDO_SECONDS": "1"})
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        yield client


def test_undo_after_the_window_is_refused(
    short_window: TestClient, stack: Stack, user: MailUser
) -> None:
    login(short_window, user)
    ids = delivered(stack, user)
    post(short_window, "/mail/delete", folder="INBOX", uid=min(ids.values()))
    token = undo_token(short_window)
    time.sleep(1.5)
    late = post(short_window, "/mail/undo", token=token)
    assert late.status_code == 410
    assert len(held(stack, user, "Trash")) == 1


def test_undo_needs_the_csrf_token(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    ids = delivered(stack, user)
    post(logged_in, "/mail/delete", folder="INBOX", uid=min(ids.values()))
    token = undo_token(logged_in)
    assert logged_in.post("/mail/undo", data={"token": token}).status_code == 403
    assert len(held(stack, user, "Trash")) == 1


def test_the_undo_record_holds_no_folder_name_in_clear(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    import asyncio

    from redis.asyncio import Redis

    ids = delivered(stack, user)
    post(logged_in, "/mail/folders/create", name="Dossier Durand")
    post(logged_in, "/mail/move", folder="INBOX", uid=min(ids.values()), target="Dossier Durand")
    undo_token(logged_in)
    url = logged_in.app.state.services.settings.redis_url  # type: ignore[attr-defined]

    async def values() -> list[bytes]:
        redis = Redis.from_url(url)
        try:
            keys = [key async for key in redis.scan_iter("mss:undo:*")]
            return [await redis.get(key) or b"" for key in keys]
        finally:
            await redis.aclose()

    stored = asyncio.run(values())
    assert stored and not any(b"Durand" in value for value in stored)


# -- the other flavour: INBOX. namespace, no SPECIAL-USE, Trash and Archive made on demand --


def test_delete_archive_and_undo_under_an_inbox_prefix(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    account = user_on_other_server(stack, other_imap)
    imap = other_imap_for(other_imap, account)
    try:
        for subject, flags in (("Un", "(\\Flagged)"), ("Deux", "(\\Seen $Label1)")):
            raw = simple_mail("a@chu-demo.mssante.test", account.address, subject).as_bytes()
            assert imap.append("INBOX", flags, None, raw)[0] == "OK"
        before = state(imap, "INBOX")
    finally:
        imap.logout()
    with other_client(stack, other_imap) as client:
        login(client, account)
        uids = sorted(m.uid for m in client.get("/mail").context["page"].messages)
        for action, where in (("delete", "INBOX.Trash"), ("archive", "INBOX.Archive")):
            done = post(client, "/mail/selection", folder="INBOX", action=action, uid=uids)
            assert done.status_code == 303
            imap = other_imap_for(other_imap, account)
            try:
                assert len(state(imap, where)) == 2
            finally:
                imap.logout()
            assert post(client, "/mail/undo", token=undo_token(client)).status_code == 303
            imap = other_imap_for(other_imap, account)
            try:
                assert state(imap, "INBOX") == before
                assert state(imap, where) == {}
            finally:
                imap.logout()
            uids = sorted(m.uid for m in client.get("/mail").context["page"].messages)


def test_undo_says_so_when_a_message_is_gone_meanwhile(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    ids = delivered(stack, user)
    post(logged_in, "/mail/selection", folder="INBOX", action="delete", uid=sorted(ids.values()))
    token = undo_token(logged_in)
    imap = imap_for(stack, user)  # another client removes one from Trash meanwhile
    imap.select("Trash")
    imap.uid("STORE", "1", "+FLAGS.SILENT", "(\\Deleted)")
    imap.expunge()
    imap.logout()
    undone = post(logged_in, "/mail/undo", token=token)
    assert undone.headers["location"].endswith("notice=undone-partial")
    page = soup(logged_in.get(undone.headers["location"]).text)
    assert page.select_one(".alert-warning").get_text(strip=True)
    assert len(held(stack, user, "INBOX")) == 2


def test_two_annuler_at_once_restore_once(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ids = delivered(stack, user)
    post(logged_in, "/mail/delete", folder="INBOX", uid=min(ids.values()))
    token = undo_token(logged_in)
    csrf = csrf_token(logged_in)

    def press() -> int:
        answer = logged_in.post("/mail/undo", data={"csrf_token": csrf, "token": token})
        return int(answer.status_code)

    with ThreadPoolExecutor(2) as pool:
        answers = sorted(pool.map(lambda _n: press(), range(2)))
    assert answers == [303, 410]
    assert len(held(stack, user, "INBOX")) == 3


@pytest.mark.parametrize("token", ["", "x" * 200, "a b", "../latest", "latest"])
def test_hostile_tokens_find_nothing(
    logged_in: TestClient, stack: Stack, user: MailUser, token: str
) -> None:
    ids = delivered(stack, user)
    post(logged_in, "/mail/delete", folder="INBOX", uid=min(ids.values()))
    assert post(logged_in, "/mail/undo", token=token).status_code == 410
    assert len(held(stack, user, "Trash")) == 1
