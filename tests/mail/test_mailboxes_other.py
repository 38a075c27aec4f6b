"""Shared mailboxes on another vendor's server: "INBOX." personal namespace, "." separator,
accounts known by a bare login (``shared.secretariat``), no SPECIAL-USE (dev/other_imap.py)."""

from __future__ import annotations

from dev.other_imap import InboxPrefixStack, login_name
from dev.stack import Stack
from tests.conftest import MailUser, new_user
from tests.other_servers import on_other, other_imap_for, user_on_other_server
from webmail.mail import mailboxes
from webmail.mail.connections import MailSession
from webmail.mail.mailbox import MailboxCache
from webmail.mail.mailboxes import PERSONAL, FolderOutside
from webmail.mail.shared_config import SharedIdentity, SharedMailboxConfig


def organisational(stack: Stack, other: InboxPrefixStack) -> MailUser:
    owner = new_user(stack, "cabinet.mssante.test")
    other.add_user(owner.address, owner.password)
    imap = other_imap_for(other, owner)
    try:
        imap.create("INBOX.Sent")
        imap.append("INBOX", None, None, b"Subject: Demande\r\nFrom: a@b.test\r\n\r\nBonjour\r\n")
    finally:
        imap.logout()
    return owner


async def test_prefix_and_separator_come_from_the_server(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    owner = organisational(stack, other_imap)
    practitioner = user_on_other_server(stack, other_imap)
    for folder in ("INBOX", "INBOX.Sent"):
        other_imap.share_mailbox(owner.address, practitioner.address, "lrswipte", folder)
    login = login_name(owner.address)
    config = SharedMailboxConfig(
        identities=((login, SharedIdentity(owner.address, "Secrétariat du cabinet")),)
    )
    async with on_other(other_imap, practitioner) as imap:
        session = MailSession(imap, MailboxCache(), practitioner.address, login, config)
        box, reached = await mailboxes.current(session)
        assert [b.key for b in reached.mailboxes] == [PERSONAL, login]
        # The bare login is no address: the deployment's mapping gives it, and the name.
        assert (box.address, box.name) == (owner.address, "Secrétariat du cabinet")
        assert box.inbox == f"shared.{login}"
        assert box.unseen == 1
        assert await mailboxes.inside(session, "INBOX") == f"shared.{login}"
        with pytest_raises_outside():
            await mailboxes.inside(session, "INBOX.Sent")  # the practitioner's own
        with pytest_raises_outside():
            await mailboxes.inside(session, f"shared.{login}..x")
        # Found by its name (no SPECIAL-USE here), inside the secretariat.
        assert await mailboxes.role_folder(session, "sent") == f"shared.{login}.Sent"
        # The own mailbox on this server: INBOX and INBOX.*, none of the shared namespace.
        session.mailbox = PERSONAL
        names = [entry.name for entry in await mailboxes.entries(session)]
        assert names == ["INBOX"]


async def test_without_a_mapping_a_bare_login_cannot_send(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    owner = organisational(stack, other_imap)
    practitioner = user_on_other_server(stack, other_imap)
    other_imap.share_mailbox(owner.address, practitioner.address, "lrswipte")
    async with on_other(other_imap, practitioner) as imap:
        session = MailSession(imap, MailboxCache(), practitioner.address)
        reached = await mailboxes.reach(session)
    box = reached.get(login_name(owner.address))
    assert box is not None and box.address is None
    assert [s.mailbox for s in mailboxes.senders(reached, practitioner.address)] == [PERSONAL]


def pytest_raises_outside():  # type: ignore[no-untyped-def]
    import pytest

    return pytest.raises(FolderOutside)
