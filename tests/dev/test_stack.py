"""The local mail stack (dev/stack.py) and the seeding helper (dev/seed.py), end to end.

Starts its own Stack on the tests' base port + 1000, next to the one the other tests share.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import secrets
import shutil
import signal
import smtplib
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest

from dev.seed import decode_mailbox_name, encode_mailbox_name, seed_mailbox
from dev.stack import Stack

BASE_PORT = int(os.environ.get("MSS_TEST_BASE_PORT", "20000")) + 1000
DOMAIN = "stack-test.mssante.test"
DELIVERY_TIMEOUT = 10.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="Postfix needs root")


@dataclass(frozen=True)
class Account:
    address: str
    password: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Not pytest's tmp_path (mode 0700 parents): the services run unprivileged.
    state = Path(tempfile.mkdtemp(prefix="mss-stack-test-"))
    stack = Stack(state, BASE_PORT)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)


def new_account(stack: Stack, domain: str = DOMAIN) -> Account:
    account = Account(f"u{secrets.token_hex(4)}@{domain}", secrets.token_urlsafe(12))
    stack.add_user(account.address, account.password)
    return account


@pytest.fixture
def alice(stack: Stack) -> Account:
    return new_account(stack)


@pytest.fixture
def bob(stack: Stack) -> Account:
    return new_account(stack)


def tls_context(stack: Stack) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(stack.ca_cert))
    # Python 3.13 makes this the default: the test certificates must already pass it.
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


@contextlib.contextmanager
def imap_session(stack: Stack, account: Account) -> Iterator[imaplib.IMAP4]:
    imap = imaplib.IMAP4(stack.imap_host, stack.imap, timeout=10)
    try:
        imap.starttls(tls_context(stack))
        imap.login(account.address, account.password)
        yield imap
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            with contextlib.suppress(OSError):
                imap.shutdown()


@contextlib.contextmanager
def submission(stack: Stack, account: Account) -> Iterator[smtplib.SMTP]:
    with smtplib.SMTP("localhost", stack.submission, timeout=10) as smtp:
        smtp.starttls(context=tls_context(stack))
        smtp.login(account.address, account.password)
        yield smtp


def message(sender: str, recipient: str, subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = subject
    mail.set_content("Bonjour,\nceci est un test.\n")
    return mail


def wait_for_subject(stack: Stack, account: Account, subject: str) -> bytes:
    """The raw message with this subject in the INBOX, polling until it arrives."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    with imap_session(stack, account) as imap:
        while True:
            # A mailbox that has never received mail may not exist yet: keep polling.
            selected, _ = imap.select("INBOX", readonly=True)
            data = imap.search(None, "SUBJECT", f'"{subject}"')[1] if selected == "OK" else [b""]
            if data[0]:
                _, fetched = imap.fetch(data[0].split()[-1], "(BODY.PEEK[])")
                return fetched[0][1]
            if time.monotonic() > deadline:
                pytest.fail(f"no message {subject!r} for {account.address}")
            time.sleep(0.2)


def connection_refused(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


# -- IMAP ------------------------------------------------------------------------------------


def test_plain_imap_port_refuses_login_before_starttls(stack: Stack, alice: Account) -> None:
    imap = imaplib.IMAP4(stack.imap_host, stack.imap, timeout=10)
    try:
        assert "LOGINDISABLED" in imap.capabilities
        assert "STARTTLS" in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            imap.login(alice.address, alice.password)
    finally:
        imap.shutdown()


def test_login_after_starttls(stack: Stack, alice: Account) -> None:
    with imap_session(stack, alice) as imap:
        assert imap.state == "AUTH"
        _, capabilities = imap.capability()
        for extension in (b"SORT", b"CONDSTORE", b"SPECIAL-USE", b"MULTIAPPEND"):
            assert extension in capabilities[0].split()


def test_login_with_implicit_tls(stack: Stack, alice: Account) -> None:
    with imaplib.IMAP4_SSL("localhost", stack.imaps, ssl_context=tls_context(stack)) as imap:
        imap.login(alice.address, alice.password)
        assert imap.state == "AUTH"


def test_wrong_password_is_refused(stack: Stack, alice: Account) -> None:
    wrong = Account(alice.address, "not-the-password")
    with pytest.raises(imaplib.IMAP4.error), imap_session(stack, wrong):
        pass


def test_special_use_folders_exist_and_are_subscribed(stack: Stack, alice: Account) -> None:
    expected = {
        "Drafts": "\\Drafts",
        "Sent": "\\Sent",
        "Trash": "\\Trash",
        "Archive": "\\Archive",
        "Junk": "\\Junk",
    }
    with imap_session(stack, alice) as imap:
        _, listed = imap.list('""', '"*" RETURN (SPECIAL-USE SUBSCRIBED)')
        attributes = {}
        for line in listed:
            match = re.match(rb'\((?P<attrs>[^)]*)\) "/" "?(?P<name>[^"]+)"?', line)
            assert match, line
            attributes[match["name"].decode()] = match["attrs"].decode().split()
    for name, special_use in expected.items():
        assert special_use in attributes[name]
        assert "\\Subscribed" in attributes[name]


# -- SMTP ------------------------------------------------------------------------------------


def test_submission_delivers_to_another_user(stack: Stack, alice: Account, bob: Account) -> None:
    subject = f"Compte rendu {secrets.token_hex(4)}"
    with submission(stack, alice) as smtp:
        smtp.send_message(message(alice.address, bob.address, subject))
    raw = wait_for_subject(stack, bob, subject)
    assert f"From: {alice.address}".encode() in raw


def test_smtps_accepts_login(stack: Stack, alice: Account) -> None:
    with smtplib.SMTP_SSL("localhost", stack.smtps, context=tls_context(stack)) as smtp:
        code, _ = smtp.login(alice.address, alice.password)
        assert code == 235


def test_submission_requires_authentication(stack: Stack, bob: Account) -> None:
    with smtplib.SMTP("localhost", stack.submission, timeout=10) as smtp:
        assert not smtp.has_extn("auth"), "AUTH offered before STARTTLS"
        smtp.starttls(context=tls_context(stack))
        smtp.ehlo()
        assert smtp.has_extn("auth")
        with pytest.raises((smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)):
            smtp.send_message(message(bob.address, bob.address, "sans authentification"))


def test_unknown_recipient_is_refused_at_rcpt(stack: Stack, alice: Account) -> None:
    unknown = f"personne-{secrets.token_hex(4)}@{DOMAIN}"
    with submission(stack, alice) as smtp:
        smtp.mail(alice.address)
        code, _ = smtp.rcpt(unknown)
    assert code == 550
    with smtplib.SMTP("localhost", stack.smtp, timeout=10) as smtp:
        smtp.mail("")
        code, _ = smtp.rcpt(unknown)
    assert code == 550


def test_sending_as_another_user_is_refused(stack: Stack, alice: Account, bob: Account) -> None:
    with submission(stack, alice) as smtp, pytest.raises(smtplib.SMTPException) as refused:
        smtp.send_message(message(bob.address, bob.address, "usurpation"))
    assert "not owned by user" in str(refused.value)


def test_other_domains_bounce_to_the_sender(stack: Stack, alice: Account) -> None:
    subject = f"Hors espace {secrets.token_hex(4)}"
    with submission(stack, alice) as smtp:
        smtp.send_message(message(alice.address, "patient@exemple.org", subject))
    bounce = wait_for_subject(stack, alice, "Undelivered Mail Returned to Sender")
    assert "Domaine hors de l'espace de démonstration" in bounce.decode()


def test_plain_smtp_port_takes_local_mail_only(stack: Stack, bob: Account) -> None:
    subject = f"Resultats {secrets.token_hex(4)}"
    with smtplib.SMTP("localhost", stack.smtp, timeout=10) as smtp:
        smtp.send_message(message("labo@exemple.org", bob.address, subject))
        smtp.mail("labo@exemple.org")
        code, _ = smtp.rcpt("someone@exemple.org")
        assert code == 554  # relay access denied
    wait_for_subject(stack, bob, subject)


# -- users -----------------------------------------------------------------------------------


def test_add_user_is_usable_at_once(stack: Stack, alice: Account) -> None:
    newcomer = new_account(stack, f"nouveau-{secrets.token_hex(3)}.mssante.test")
    with imap_session(stack, newcomer) as imap:
        assert imap.state == "AUTH"
    subject = f"Bienvenue {secrets.token_hex(4)}"
    with submission(stack, alice) as smtp:
        smtp.send_message(message(alice.address, newcomer.address, subject))
    wait_for_subject(stack, newcomer, subject)
    with submission(stack, newcomer) as smtp:
        smtp.send_message(message(newcomer.address, alice.address, subject))


def test_add_user_changes_the_password(stack: Stack, alice: Account) -> None:
    changed = Account(alice.address, secrets.token_urlsafe(12))
    stack.add_user(changed.address, changed.password)
    with imap_session(stack, changed) as imap:
        assert imap.state == "AUTH"
    with pytest.raises(imaplib.IMAP4.error), imap_session(stack, alice):
        pass


def test_add_user_rejects_odd_addresses(stack: Stack) -> None:
    for address in ("no-at-sign", "a:b@x.test", "line\nbreak@x.test", "a@localhost"):
        with pytest.raises(ValueError):
            stack.add_user(address, "x")


# -- seeding ---------------------------------------------------------------------------------


def test_seed_mailbox(stack: Stack, alice: Account) -> None:
    paris = timezone(timedelta(hours=1))
    first = datetime(2024, 3, 1, 8, 30, tzinfo=paris)
    folders = ["INBOX", "Résultats/Biologie", "Dr. Martin"]

    def messages() -> Iterator[tuple[str, tuple[str, ...], datetime, bytes]]:
        for index in range(300):
            body = f"Subject: Message {index}\nFrom: labo@exemple.org\n\nLigne {index}\n"
            flags = ("\\Seen", "$Forwarded") if index % 2 else ()
            when = first + timedelta(hours=index)
            yield folders[index % 3], flags, when, body.encode()

    count = seed_mailbox(stack.imap_host, stack.imap, stack.ca_cert, alice.address,
                         alice.password, messages())  # fmt: skip

    assert count == 300
    with imap_session(stack, alice) as imap:
        for folder in folders:
            status, data = imap.select(f'"{encode_mailbox_name(folder).decode()}"')
            assert status == "OK"
            assert int(data[0]) == 100
        # Résultats/Biologie holds messages 1, 4, 7...: the first has flags, and LF endings.
        imap.select(f'"{encode_mailbox_name(folders[1]).decode()}"')
        _, data = imap.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
        envelope, raw = data[0]
        # Maildir keeps the instant (as the file's mtime), not the time zone.
        internal_date = re.search(rb'INTERNALDATE "([^"]+)"', envelope)
        assert internal_date
        received = datetime.strptime(internal_date[1].decode(), "%d-%b-%Y %H:%M:%S %z")
        assert received == first + timedelta(hours=1)
        assert b"\\Seen" in envelope and b"$Forwarded" in envelope
        assert raw == b"Subject: Message 1\r\nFrom: labo@exemple.org\r\n\r\nLigne 1\r\n"


def test_mailbox_names_in_modified_utf7() -> None:
    assert encode_mailbox_name("Résultats & co") == b"R&AOk-sultats &- co"
    assert encode_mailbox_name("~peter/mail/台北/日本語") == b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    for name in ("Résultats & co", "Échographies/2024", "日本語", "plain"):
        assert decode_mailbox_name(encode_mailbox_name(name)) == name


# -- faults and restarts (last: they restart services) ---------------------------------------


def test_stop_dovecot_drops_sessions_then_start_brings_it_back(
    stack: Stack, alice: Account, bob: Account
) -> None:
    with imap_session(stack, alice) as imap:
        stack.stop_dovecot()
        with pytest.raises((imaplib.IMAP4.abort, OSError)):
            imap.noop()
    assert connection_refused(stack.imap, stack.imap_host)
    assert connection_refused(stack.imaps)

    stack.start_dovecot()
    with imap_session(stack, alice) as imap:
        assert imap.state == "AUTH"
    subject = f"Apres redemarrage {secrets.token_hex(4)}"
    with submission(stack, alice) as smtp:
        smtp.send_message(message(alice.address, bob.address, subject))
    wait_for_subject(stack, bob, subject)


def test_stop_redis_then_start(stack: Stack) -> None:
    stack.stop_redis()
    assert connection_refused(stack.redis)
    stack.start_redis()
    with socket.create_connection(("127.0.0.1", stack.redis), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(64).startswith(b"+PONG")


def test_start_twice_keeps_users(stack: Stack, alice: Account) -> None:
    stack.start()
    stack.start()
    with imap_session(stack, alice) as imap:
        assert imap.state == "AUTH"


def test_start_after_a_crash(stack: Stack, alice: Account) -> None:
    pids = stack.status()
    assert all(pids.values()), pids
    for pid in pids.values():
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    stack.start()
    assert all(stack.status().values())
    with imap_session(stack, alice) as imap:
        assert imap.state == "AUTH"
