"""Removing a message removes that one only, also on a server without UIDPLUS, where the
only EXPUNGE there is removes every message marked \\Deleted in the folder."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, deliver, imap_for, new_user
from tests.other_servers import connected, record_commands


def note(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "collegue@medecin.mssante.test"
    message["Subject"] = subject
    message.set_content("Texte.")
    return message


def remaining(stack: Stack, user: MailUser) -> dict[int, bool]:
    """The UIDs left in INBOX, each with whether it is marked \\Deleted."""
    imap = imap_for(stack, user)
    try:
        imap.select("INBOX")
        _typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
    finally:
        imap.logout()
    found = {}
    for line in data:
        text = line.decode() if isinstance(line, bytes) else ""
        if "UID " in text:
            uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
            found[uid] = "\\Deleted" in text
    return found


@pytest.mark.parametrize("uidplus", [True, False])
async def test_only_the_message_asked_for_is_expunged(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, uidplus: bool
) -> None:
    user = new_user(stack)
    kept_by_another_client = deliver(stack, user, note("Marqué ailleurs"), flags="\\Deleted")
    target = deliver(stack, user, note("À supprimer"))
    untouched = deliver(stack, user, note("Autre"))
    async with connected(
        stack.imap_host, stack.imap, str(stack.ca_cert), user.address, user.password
    ) as imap:
        if not uidplus:
            imap._protocol.capabilities.discard("UIDPLUS")
        sent = record_commands(monkeypatch, imap)
        await imap.select("INBOX")
        await imap.store_flags([target], ["\\Deleted"], add=True)
        await imap.expunge_uids([target])
    assert remaining(stack, user) == {kept_by_another_client: True, untouched: False}
    plain_expunges = [command for command in sent if command == ("EXPUNGE",)]
    assert len(plain_expunges) == (0 if uidplus else 1)
