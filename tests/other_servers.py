"""Another vendor's IMAP server for the tests: Dovecot with an ``INBOX.`` namespace, no special
folders, no SPECIAL-USE nor SORT, and bare user names (dev/other_imap.py), started once per
run by the ``other_imap`` fixture of conftest.py.

Its users also exist on the main stack, whose Postfix sends their mail.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dev.env import webmail_env
from dev.other_imap import InboxPrefixStack, login_name
from dev.stack import Stack
from tests.conftest import MailUser, new_user
from webmail.app import create_app
from webmail.mail.imap import ImapClient
from webmail.settings import ServerSettings, Settings, TlsMode


def other_env(stack: Stack, other: InboxPrefixStack, **overrides: str) -> dict[str, str]:
    """The webmail in front of the other IMAP server, sending through the main stack."""
    bundle = other.state_dir / "ca-bundle.pem"
    bundle.write_text(stack.ca_cert.read_text() + other.ca_cert.read_text())
    settings = {
        "MSS_IMAP_HOST": other.imap_host,
        "MSS_IMAP_PORT": str(other.imap),
        "MSS_CA_BUNDLE": str(bundle),
        "MSS_LOGIN_FORMAT": "localpart",
        "MSS_UNDO_SEND_SECONDS": "0",  # sent at once, as the tests read it
        **overrides,
    }
    return webmail_env(stack, **settings)


def user_on_other_server(stack: Stack, other: InboxPrefixStack) -> MailUser:
    """A mailbox on the other server (by its bare name), with the same address on the main
    stack, whose Postfix sends its mail with either login."""
    user = new_user(stack)
    other.add_user(user.address, user.password)
    # The operator's SMTP knows the user by the same bare name as its IMAP.
    stack.add_login(user.address, login_name(user.address), user.password)
    return user


def other_client(stack: Stack, other: InboxPrefixStack, **overrides: str) -> TestClient:
    settings = Settings.from_env(other_env(stack, other, **overrides))
    return TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    )


def other_imap_for(other: InboxPrefixStack, user: MailUser) -> imaplib.IMAP4:
    imap = imaplib.IMAP4(other.imap_host, other.imap)
    imap.starttls(ssl.create_default_context(cafile=str(other.ca_cert)))
    imap.login(login_name(user.address), user.password)
    return imap


def folder_names(other: InboxPrefixStack, user: MailUser) -> set[str]:
    imap = other_imap_for(other, user)
    try:
        _typ, lines = imap.list()
    finally:
        imap.logout()
    return {line.decode().rsplit(' "." ', 1)[1].strip('"') for line in lines if line}


# -- the domain layer's own client ---------------------------------------------------------


@contextlib.asynccontextmanager
async def connected(
    host: str, port: int, ca: str, login: str, password: str
) -> AsyncIterator[ImapClient]:
    server = ServerSettings(host=host, port=port, tls=TlsMode.STARTTLS)
    imap = await ImapClient.connect(server, ssl.create_default_context(cafile=ca), 5)
    try:
        await imap.login(login, password)
        yield imap
    finally:
        await imap.logout()


def on_other(
    other: InboxPrefixStack, user: MailUser
) -> contextlib.AbstractAsyncContextManager[ImapClient]:
    return connected(
        other.imap_host, other.imap, str(other.ca_cert), login_name(user.address), user.password
    )


def record_commands(monkeypatch: pytest.MonkeyPatch, imap: ImapClient) -> list[tuple[str, ...]]:
    """The commands the client sends, still sent to the real server."""
    sent: list[tuple[str, ...]] = []
    real = imap._command

    async def recording(name: str, *args: str, **kwargs: Any) -> list[bytes | bytearray]:
        sent.append((name, *args))
        return await real(name, *args, **kwargs)

    monkeypatch.setattr(imap, "_command", recording)
    return sent
