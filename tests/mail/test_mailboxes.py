"""The mailboxes a login can reach, found through real Dovecot ACLs and its shared namespace."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest

from dev.stack import Stack
from tests.conftest import (
    READ_RIGHTS,
    SECRETARY_PATTERN,
    MailUser,
    SharedMailbox,
    deliver,
    new_user,
    share,
    simple_mail,
)
from webmail.mail import mailboxes
from webmail.mail.connections import ConnectionPool, MailSession
from webmail.mail.mailboxes import PERSONAL, FolderOutside, NoMailbox, SenderRefused
from webmail.mail.shared_config import SharedMailboxConfig
from webmail.settings import Settings


@contextlib.asynccontextmanager
async def opened(
    settings: Settings, user: MailUser, on: str = PERSONAL, *, secretaries: bool = True
) -> AsyncIterator[MailSession]:
    config = SharedMailboxConfig(organisational_only=(SECRETARY_PATTERN,) if secretaries else ())
    pool = ConnectionPool(dataclasses.replace(settings, shared=config))
    pool.choose("k", on)
    try:
        async with pool.use("k", user.address, user.password) as session:
            yield session
    finally:
        await pool.close_all()


def mail(subject: str, to: str) -> bytes:
    return simple_mail("confrere@chu-demo.mssante.test", to, subject).as_bytes()


async def test_without_shares_only_the_own_mailbox(settings: Settings, user: MailUser) -> None:
    async with opened(settings, user) as session:
        reached = await mailboxes.reach(session)
        assert [box.key for box in reached.mailboxes] == [PERSONAL]
        entries = await mailboxes.entries(session)
    assert [entry.name for entry in entries][:1] == ["INBOX"]
    assert not any(entry.name.startswith("shared") for entry in entries)


async def test_practitioner_reaches_the_secretariat_with_its_unread_count(
    stack: Stack, settings: Settings, shared_mailbox: SharedMailbox
) -> None:
    owner, practitioner = shared_mailbox.owner, shared_mailbox.practitioner
    for n in range(3):
        deliver(stack, owner, mail(f"Demande {n}", owner.address))
    deliver(stack, owner, mail("Lu", owner.address), flags="\\Seen")
    deliver(stack, practitioner, mail("Perso", practitioner.address))
    async with opened(settings, practitioner) as session:
        reached = await mailboxes.reach(session)
    own, secretariat = reached.mailboxes
    assert (own.key, own.address, own.unseen) == (PERSONAL, practitioner.address, 1)
    # Dovecot names the account by its address in the shared namespace: that is its address.
    assert secretariat.key == owner.address
    assert secretariat.address == owner.address
    assert secretariat.inbox == f"shared/{owner.address}"
    assert secretariat.unseen == 3
    assert secretariat.rights.insert and secretariat.rights.delete


async def test_the_count_follows_new_mail_once_the_folder_list_is_read_again(
    stack: Stack, settings: Settings, shared_mailbox: SharedMailbox
) -> None:
    owner = shared_mailbox.owner
    async with opened(settings, shared_mailbox.practitioner) as session:
        assert (await mailboxes.reach(session)).get(owner.address).unseen == 0
        deliver(stack, owner, mail("Nouveau", owner.address))
        session.cache.folder_list = None  # what 30 seconds, or opening a folder, does
        assert (await mailboxes.reach(session)).get(owner.address).unseen == 1


async def test_the_secretary_sees_no_personal_mailbox_and_lands_on_the_secretariat(
    settings: Settings, shared_mailbox: SharedMailbox
) -> None:
    async with opened(settings, shared_mailbox.secretary) as session:
        box, reached = await mailboxes.current(session)
        assert [b.key for b in reached.mailboxes] == [shared_mailbox.owner.address]
        assert box.key == shared_mailbox.owner.address
        # "INBOX" means the secretariat's: the secretary's own is out of reach.
        assert await mailboxes.inside(session, "INBOX") == box.inbox
        senders = mailboxes.senders(reached, session.user)
        assert [s.address for s in senders] == [shared_mailbox.owner.address]


async def test_an_organisational_only_account_with_nothing_shared_reaches_nothing(
    stack: Stack, settings: Settings
) -> None:
    from tests.conftest import new_secretary

    async with opened(settings, new_secretary(stack)) as session:
        with pytest.raises(NoMailbox):
            await mailboxes.current(session)


async def test_folders_inside_the_current_mailbox_only(
    stack: Stack, settings: Settings, shared_mailbox: SharedMailbox
) -> None:
    owner = shared_mailbox.owner
    stranger = new_user(stack, "cabinet.mssante.test")
    base = f"shared/{owner.address}/"
    async with opened(settings, shared_mailbox.practitioner) as session:
        # On the own mailbox: nothing of the shared namespace.
        for name in (f"shared/{owner.address}", f"{base}Sent", "shared", "Sent/../x", "a//b"):
            with pytest.raises(FolderOutside):
                await mailboxes.inside(session, name)
        assert await mailboxes.inside(session, "Sent") == "Sent"
    async with opened(settings, shared_mailbox.practitioner, on=owner.address) as session:
        assert await mailboxes.inside(session, f"{base}Sent") == f"{base}Sent"
        assert await mailboxes.inside(session, "inbox") == f"shared/{owner.address}"
        for name in (
            "Sent",  # the practitioner's own
            f"shared/{stranger.address}",  # another account, not shared with them
            f"{base}../{stranger.address}",
            f"{base}./Sent",
            f"{base}",
        ):
            with pytest.raises(FolderOutside):
                await mailboxes.inside(session, name)
        entries = await mailboxes.entries(session)
        names = {entry.name: entry.role for entry in entries}
        assert names[f"shared/{owner.address}"] == "inbox"
        assert names[f"{base}Sent"] == "sent"
        assert all(name.startswith(f"shared/{owner.address}") for name in names)


async def test_special_folders_inside_the_secretariat_or_the_own_ones(
    stack: Stack, settings: Settings, shared_mailbox: SharedMailbox
) -> None:
    owner = shared_mailbox.owner
    async with opened(settings, shared_mailbox.practitioner, on=owner.address) as session:
        assert await mailboxes.role_folder(session, "sent") == f"shared/{owner.address}/Sent"
        assert await mailboxes.role_folder(session, "trash") == f"shared/{owner.address}/Trash"
    # Shared without its Sent and Drafts: drafts and sent copies stay with the user's own.
    colleague = new_user(stack)
    share(stack, owner, colleague, folders=("INBOX",))
    async with opened(settings, colleague, on=owner.address) as session:
        assert await mailboxes.role_folder(session, "sent") == "Sent"
        assert await mailboxes.role_folder(session, "drafts") == "Drafts"
        with pytest.raises(mailboxes.FolderUnavailable):
            await mailboxes.role_folder(session, "trash", fallback=False)


async def test_read_only_share(stack: Stack, settings: Settings) -> None:
    owner = new_user(stack, "cabinet.mssante.test")
    reader = new_user(stack)
    share(stack, owner, reader, READ_RIGHTS, ("INBOX",))
    async with opened(settings, reader, on=owner.address) as session:
        box, reached = await mailboxes.current(session)
        assert box.key == owner.address
        assert box.rights.read and not box.rights.delete and not box.rights.insert
        assert not (await mailboxes.rights(session, box.inbox)).mark_seen
        # No right to add messages: not an address this login may write from.
        assert [s.mailbox for s in mailboxes.senders(reached, session.user)] == [PERSONAL]
        with pytest.raises(SenderRefused):
            await mailboxes.sender(session, owner.address)


async def test_a_share_taken_back_disappears(stack: Stack, settings: Settings) -> None:
    owner = new_user(stack, "cabinet.mssante.test")
    colleague = new_user(stack)
    share(stack, owner, colleague, folders=("INBOX",))
    stack.share_mailbox(owner.address, colleague.address, "")
    async with opened(settings, colleague, on=owner.address) as session:
        box, reached = await mailboxes.current(session)
    assert [b.key for b in reached.mailboxes] == [PERSONAL]
    assert box.personal  # the session falls back to the own mailbox


async def test_without_list_status_the_count_comes_from_status(
    stack: Stack, settings: Settings, shared_mailbox: SharedMailbox
) -> None:
    owner = shared_mailbox.owner
    deliver(stack, owner, mail("Une", owner.address))
    async with opened(settings, shared_mailbox.practitioner) as session:
        session.imap._protocol.capabilities.discard("LIST-STATUS")
        box = (await mailboxes.reach(session)).get(owner.address)
    assert box is not None and box.unseen == 1
