"""The second Dovecot (dev/other_imap.py) really is unlike ours, and its users can send."""

from __future__ import annotations

import imaplib
import smtplib
import ssl

import pytest

from dev.other_imap import InboxPrefixStack, login_name
from dev.stack import Stack
from tests.conftest import simple_mail, wait_for_messages
from tests.other_servers import other_imap_for, user_on_other_server


def test_bare_user_names_only_and_inbox_alone(stack: Stack, other_imap: InboxPrefixStack) -> None:
    user = user_on_other_server(stack, other_imap)
    imap = other_imap_for(other_imap, user)
    try:
        # Other accounts' shared folders under "shared.", as the personal ones under "INBOX.".
        assert imap.namespace()[1] == [b'(("INBOX." ".")) (("shared." ".")) NIL']
        assert imap.list()[1] == [b'(\\HasNoChildren) "." INBOX']
        advertised = imap.capability()[1][0].split()
        assert b"SORT" not in advertised and b"SPECIAL-USE" not in advertised
    finally:
        imap.logout()
    with imaplib.IMAP4(other_imap.imap_host, other_imap.imap) as refused:
        refused.starttls(ssl.create_default_context(cafile=str(other_imap.ca_cert)))
        with pytest.raises(imaplib.IMAP4.error):
            refused.login(user.address, user.password)


def test_forbidding_new_folders_keeps_inbox(stack: Stack, other_imap: InboxPrefixStack) -> None:
    user = user_on_other_server(stack, other_imap)
    other_imap.forbid_new_folders(user.address, user.password)
    imap = other_imap_for(other_imap, user)
    try:
        assert imap.create('"INBOX.Sent"')[0] == "NO"
        assert imap.append("INBOX", None, None, b"Subject: x\r\n\r\nx\r\n")[0] == "OK"
    finally:
        imap.logout()


def test_main_postfix_takes_the_bare_login_for_its_own_address_only(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    user = user_on_other_server(stack, other_imap)
    context = ssl.create_default_context(cafile=str(stack.ca_cert))
    with smtplib.SMTP("localhost", stack.submission, timeout=10) as smtp:
        smtp.starttls(context=context)
        smtp.login(login_name(user.address), user.password)
        smtp.send_message(simple_mail(user.address, user.address, "Par le nom court"))
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.send_message(simple_mail("autre@medecin.mssante.test", user.address, "Usurpation"))
    assert b"Par le nom court" in wait_for_messages(stack, user)[0]
