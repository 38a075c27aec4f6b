"""IMAP and SMTP with a Pro Santé Connect access token (XOAUTH2), checked by the real Dovecot
(and Postfix, through Dovecot's SASL) by token introspection at the real provider."""

from __future__ import annotations

import asyncio

import pytest

from dev.psc import PscProvider
from dev.stack import Stack
from tests.conftest import PSC_ACCESS_TTL, MailUser, deliver, simple_mail, wait_for_messages
from tests.psc_browser import tokens_for
from webmail.mail import smtp
from webmail.mail.connections import make_ssl_context
from webmail.mail.imap import ImapAuthFailed, ImapClient
from webmail.mail.sasl import AccessToken
from webmail.settings import Settings


async def _connect(settings: Settings) -> ImapClient:
    return await ImapClient.connect(settings.imap, make_ssl_context(settings), 5)


async def test_an_access_token_opens_the_mailbox(
    psc: PscProvider, stack: Stack, user: MailUser, settings: Settings
) -> None:
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Compte rendu"))
    tokens = await tokens_for(psc, user.address)
    imap = await _connect(settings)
    try:
        await imap.login(user.address, AccessToken(tokens.access_token))
        folders = {folder.name for folder in await imap.list_folders()}
        assert "INBOX" in folders
        status = await imap.select("INBOX")
        assert status.exists == 1
    finally:
        await imap.logout()


@pytest.mark.parametrize("token", ["not-a-token", "x" * 43])
async def test_a_token_the_provider_does_not_know_is_refused(
    psc: PscProvider, user: MailUser, settings: Settings, token: str
) -> None:
    imap = await _connect(settings)
    try:
        with pytest.raises(ImapAuthFailed):
            await imap.login(user.address, AccessToken(token))
    finally:
        await imap.logout()


async def test_a_token_opens_only_its_own_mailbox(
    psc: PscProvider, user: MailUser, other_user: MailUser, settings: Settings
) -> None:
    tokens = await tokens_for(psc, user.address)
    imap = await _connect(settings)
    try:
        with pytest.raises(ImapAuthFailed):
            await imap.login(other_user.address, AccessToken(tokens.access_token))
    finally:
        await imap.logout()


async def test_an_expired_token_is_refused(
    psc: PscProvider, user: MailUser, settings: Settings
) -> None:
    tokens = await tokens_for(psc, user.address)
    await asyncio.sleep(PSC_ACCESS_TTL + 1)
    imap = await _connect(settings)
    try:
        with pytest.raises(ImapAuthFailed):
            await imap.login(user.address, AccessToken(tokens.access_token))
    finally:
        await imap.logout()


async def test_a_password_still_logs_in_as_before(user: MailUser, settings: Settings) -> None:
    imap = await _connect(settings)
    try:
        await imap.login(user.address, user.password)
    finally:
        await imap.logout()


async def _send(settings: Settings, sender: MailUser, token: str, to: MailUser) -> None:
    await smtp.send(
        settings.smtp,
        make_ssl_context(settings),
        sender.address,
        AccessToken(token),
        simple_mail(sender.address, to.address, "Par jeton"),
        [to.address],
        settings.smtp_timeouts,
    )


async def test_an_access_token_sends_mail(
    psc: PscProvider, stack: Stack, user: MailUser, other_user: MailUser, settings: Settings
) -> None:
    tokens = await tokens_for(psc, user.address)
    await _send(settings, user, tokens.access_token, other_user)
    assert b"Subject: Par jeton" in wait_for_messages(stack, other_user)[0]


async def test_smtp_refuses_a_token_it_cannot_verify(
    psc: PscProvider, user: MailUser, other_user: MailUser, settings: Settings
) -> None:
    with pytest.raises(smtp.SmtpRefused) as refused:
        await _send(settings, user, "not-a-token", other_user)
    assert refused.value.reply is not None and refused.value.reply.code == 535


async def test_smtp_refuses_a_token_for_another_sender(
    psc: PscProvider, user: MailUser, other_user: MailUser, settings: Settings
) -> None:
    tokens = await tokens_for(psc, other_user.address)
    with pytest.raises(smtp.SmtpRefused):
        await _send(settings, user, tokens.access_token, other_user)
