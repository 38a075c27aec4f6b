"""The IMAP client on a server unlike ours: ``INBOX.`` namespace, no SORT, no SPECIAL-USE."""

from __future__ import annotations

import pytest

from dev.other_imap import InboxPrefixStack
from dev.stack import Stack
from tests.conftest import new_user
from tests.other_servers import (
    connected,
    on_other,
    other_imap_for,
    record_commands,
    user_on_other_server,
)
from webmail.mail.imap import MailboxNotFound
from webmail.mail.imap_syntax import Namespace


async def test_personal_namespace_of_both_servers(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    user = user_on_other_server(stack, other_imap)
    async with on_other(other_imap, user) as imap:
        assert await imap.personal_namespace() == Namespace("INBOX.", ".")
    async with connected(
        stack.imap_host, stack.imap, str(stack.ca_cert), user.address, user.password
    ) as imap:
        assert await imap.personal_namespace() == Namespace("", "/")
        imap._protocol.capabilities.discard("NAMESPACE")
        assert await imap.personal_namespace() is None


async def test_without_sort_uids_are_newest_first(
    stack: Stack, other_imap: InboxPrefixStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = user_on_other_server(stack, other_imap)
    direct = other_imap_for(other_imap, user)
    for number in range(5):
        direct.append("INBOX", None, None, f"Subject: {number}\r\n\r\nx\r\n".encode())
    direct.logout()
    async with on_other(other_imap, user) as imap:
        assert not imap.has_capability("SORT")
        sent = record_commands(monkeypatch, imap)
        await imap.select("INBOX")
        assert await imap.sorted_uids() == [5, 4, 3, 2, 1]
        assert await imap.sorted_uids("UNSEEN") == [5, 4, 3, 2, 1]
    assert [command[0] for command in sent] == ["SEARCH", "SEARCH"]


async def test_list_asks_only_for_what_the_server_has(
    stack: Stack, other_imap: InboxPrefixStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = user_on_other_server(stack, other_imap)
    async with on_other(other_imap, user) as imap:
        sent = record_commands(monkeypatch, imap)
        folders = await imap.list_folders()
    # LIST-STATUS but no SPECIAL-USE: a server may answer BAD to a return option it lacks.
    assert sent == [("LIST", '""', '"*"', "RETURN", "(STATUS (MESSAGES UNSEEN))")]
    assert [(f.name, f.delimiter, f.messages) for f in folders] == [("INBOX", ".", 0)]


async def test_missing_folder_is_mailbox_not_found(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    user = user_on_other_server(stack, other_imap)
    direct = other_imap_for(other_imap, user)
    direct.append("INBOX", None, None, b"Subject: x\r\n\r\nx\r\n")
    direct.logout()
    async with on_other(other_imap, user) as imap:
        for name in ("INBOX.Absent", "Absent"):  # the second is outside the namespace
            with pytest.raises(MailboxNotFound):
                await imap.select(name)
        await imap.select("INBOX")  # still usable
        with pytest.raises(MailboxNotFound):
            await imap.move([1], "INBOX.Absent")


async def test_main_stack_still_gets_special_use_and_counts(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user(stack)
    async with connected(
        stack.imap_host, stack.imap, str(stack.ca_cert), user.address, user.password
    ) as imap:
        sent = record_commands(monkeypatch, imap)
        folders = {f.name: f for f in await imap.list_folders()}
    assert sent[0][-1] == "(SPECIAL-USE STATUS (MESSAGES UNSEEN))"
    assert folders["Sent"].special_use == "\\Sent" and folders["Sent"].messages == 0
