"""Special folders on a server that gives a new account INBOX alone (the other Dovecot)."""

from __future__ import annotations

from typing import Any

import pytest

from dev.other_imap import InboxPrefixStack
from dev.stack import Stack
from tests.conftest import new_user
from tests.other_servers import (
    connected,
    folder_names,
    on_other,
    other_imap_for,
    record_commands,
    user_on_other_server,
)
from webmail.mail import mailbox
from webmail.mail.imap import Folder, ImapCommandFailed
from webmail.mail.imap_syntax import Namespace, parse_namespace
from webmail.mail.mailbox import MailboxCache
from webmail.mail.special_folders import FolderUnavailable, _names_to_try, role_folder


async def test_missing_sent_is_created_under_the_namespace_prefix(
    stack: Stack, other_imap: InboxPrefixStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = user_on_other_server(stack, other_imap)
    async with on_other(other_imap, user) as imap:
        cache = MailboxCache()
        assert [f.name for f in await mailbox.folder_list(imap, cache)] == ["INBOX"]
        sent = record_commands(monkeypatch, imap)
        assert await role_folder(imap, cache, "sent") == "INBOX.Sent"
        # No CREATE-SPECIAL-USE here: a plain CREATE, and the folder is subscribed.
        assert ("CREATE", '"INBOX.Sent"') in sent
        assert ("SUBSCRIBE", '"INBOX.Sent"') in sent
        # The folder cache was refreshed: found by its name now, not created again.
        sent.clear()
        assert await role_folder(imap, cache, "sent") == "INBOX.Sent"
        assert [command[0] for command in sent] == ["LIST"]
    assert "INBOX.Sent" in folder_names(other_imap, user)


async def test_without_namespace_the_list_delimiter_places_it_under_inbox(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    user = user_on_other_server(stack, other_imap)
    async with on_other(other_imap, user) as imap:
        imap._protocol.capabilities.discard("NAMESPACE")
        # The top level is refused by this server; INBOX + "." (from LIST) is accepted.
        assert await role_folder(imap, MailboxCache(), "drafts") == "INBOX.Drafts"
    assert "INBOX.Drafts" in folder_names(other_imap, user)


async def test_a_namespace_command_refused_is_like_no_namespace(
    stack: Stack, other_imap: InboxPrefixStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = user_on_other_server(stack, other_imap)
    async with on_other(other_imap, user) as imap:
        real = imap._command

        async def refusing(name: str, *args: str, **kwargs: Any) -> list[bytes | bytearray]:
            if name == "NAMESPACE":  # a server that advertises it but answers BAD
                raise ImapCommandFailed("NAMESPACE", "BAD", "unknown command")
            return await real(name, *args, **kwargs)

        monkeypatch.setattr(imap, "_command", refusing)
        assert await role_folder(imap, MailboxCache(), "sent") == "INBOX.Sent"


async def test_refused_creation_is_a_typed_error(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    user = user_on_other_server(stack, other_imap)
    other_imap.forbid_new_folders(user.address, user.password)
    async with on_other(other_imap, user) as imap:
        with pytest.raises(FolderUnavailable) as raised:
            await role_folder(imap, MailboxCache(), "trash")
        assert (raised.value.role, raised.value.name) == ("trash", "INBOX.Trash")
        assert raised.value.refusal  # the server's words, for the log
        await imap.select("INBOX")  # the connection is still usable
    assert folder_names(other_imap, user) == {"INBOX"}


async def test_folder_created_meanwhile_by_another_session_is_used(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    user = user_on_other_server(stack, other_imap)
    async with on_other(other_imap, user) as imap:
        cache = MailboxCache()
        await mailbox.folder_list(imap, cache)  # cached: no Sent yet
        phone = other_imap_for(other_imap, user)
        assert phone.create('"INBOX.Sent"')[0] == "OK"
        phone.logout()
        # Our CREATE now fails (it exists): the folder list is read again and it is used.
        assert await role_folder(imap, cache, "sent") == "INBOX.Sent"


async def test_special_use_folder_is_found_not_created(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = new_user(stack)
    async with connected(
        stack.imap_host, stack.imap, str(stack.ca_cert), user.address, user.password
    ) as imap:
        sent = record_commands(monkeypatch, imap)
        assert await role_folder(imap, MailboxCache(), "sent") == "Sent"
        assert [command[0] for command in sent] == ["LIST"]


async def test_create_marks_the_special_use_only_when_advertised(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dovecot 2.3 takes CREATE's USE option without advertising CREATE-SPECIAL-USE: the
    # client must not send it unless told, and send it when told.
    user = new_user(stack)
    async with connected(
        stack.imap_host, stack.imap, str(stack.ca_cert), user.address, user.password
    ) as imap:
        sent = record_commands(monkeypatch, imap)
        await imap.create_special_folder("Pour plus tard", "\\Archive")
        imap._protocol.capabilities.add("CREATE-SPECIAL-USE")
        await imap.create_special_folder("Indésirables", "\\Junk")
    creates = [command for command in sent if command[0] == "CREATE"]
    assert creates == [
        ("CREATE", '"Pour plus tard"'),
        ("CREATE", '"Ind&AOk-sirables"', "(USE (\\Junk))"),
    ]


def test_namespace_answers_are_parsed() -> None:
    assert parse_namespace([b'NAMESPACE (("INBOX." ".")) NIL NIL']) == [Namespace("INBOX.", ".")]
    assert parse_namespace([b'NAMESPACE (("" "/")(".Archives" "/")) (("~" "/")) NIL']) == [
        Namespace("", "/"),
        Namespace(".Archives", "/"),
    ]
    assert parse_namespace([b'NAMESPACE (("" NIL)) NIL NIL']) == [Namespace("", None)]
    assert parse_namespace([b"NAMESPACE NIL NIL NIL"]) == []
    assert parse_namespace([b'NAMESPACE (("Dossiers &AOk-t&AOk-/" "/")) NIL NIL']) == [
        Namespace("Dossiers été/", "/")
    ]
    literal = [b"NAMESPACE (({6}", bytearray(b"INBOX."), b' ".")) NIL NIL']
    assert parse_namespace(literal) == [Namespace("INBOX.", ".")]
    assert parse_namespace([b"OK nothing"]) == []


class _StubImap:
    def __init__(self, namespace: Namespace | None) -> None:
        self.namespace = namespace

    async def personal_namespace(self) -> Namespace | None:
        return self.namespace


@pytest.mark.parametrize(
    ("namespace", "inbox_delimiter", "expected"),
    [
        (Namespace("", "/"), "/", ["Sent"]),
        (Namespace("INBOX.", "."), ".", ["INBOX.Sent"]),
        (Namespace("INBOX", "/"), "/", ["INBOX/Sent"]),  # a prefix without its separator
        (None, ".", ["Sent", "INBOX.Sent"]),
        (None, None, ["Sent"]),  # a flat server
    ],
)
async def test_names_tried(
    namespace: Namespace | None, inbox_delimiter: str | None, expected: list[str]
) -> None:
    folders = [Folder("INBOX", inbox_delimiter, frozenset())]
    stub: Any = _StubImap(namespace)
    assert await _names_to_try(stub, folders, "Sent") == expected
