"""Real servers for the whole run: Dovecot, Postfix and Redis on loopback, a fresh user per test."""

from __future__ import annotations

import imaplib
import itertools
import os
import secrets
import shutil
import ssl
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pyotp
import pytest
from bs4 import BeautifulSoup
from httpx2 import Response
from starlette.testclient import TestClient

from dev import seed
from dev.env import webmail_env
from dev.other_imap import InboxPrefixStack
from dev.psc import PscProvider
from dev.stack import Stack
from webmail.app import create_app
from webmail.settings import Settings

TEST_BASE_PORT = int(os.environ.get("MSS_TEST_BASE_PORT", "20000"))
_counter = itertools.count(1)


@dataclass(frozen=True)
class MailUser:
    address: str
    password: str


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Not pytest's tmp_path: the mail servers run unprivileged and must reach their state.
    state = Path(tempfile.mkdtemp(prefix="mss-test-stack-"))
    state.chmod(0o755)
    stack = Stack(state_dir=state, base_port=TEST_BASE_PORT)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def other_imap() -> Iterator[InboxPrefixStack]:
    """A second Dovecot set up like other vendors' servers (helpers in tests/other_servers.py)."""
    state = Path(tempfile.mkdtemp(prefix="mss-test-other-imap-"))
    state.chmod(0o755)
    other = InboxPrefixStack(state_dir=state, base_port=TEST_BASE_PORT + 500)
    other.start()
    try:
        yield other
    finally:
        other.stop()
        shutil.rmtree(state, ignore_errors=True)


# Where the test client's app receives the provider's answer (its base_url below).
PSC_REDIRECT_URI = "http://127.0.0.1:8000/login/psc/callback"
# The webmail served for the browser test, on a port of its own: redirect URIs are exact.
PSC_SERVED_PORT = TEST_BASE_PORT + 445
PSC_SERVED_REDIRECT_URI = f"http://127.0.0.1:{PSC_SERVED_PORT}/login/psc/callback"
# Short enough for a test to wait for an access token to expire.
PSC_ACCESS_TTL = 6


@pytest.fixture(scope="session")
def psc(stack: Stack) -> Iterator[PscProvider]:
    """The Pro Santé Connect look-alike (dev/psc.py), started only for the tests that use it."""
    provider = PscProvider(
        stack,
        access_ttl=PSC_ACCESS_TTL,
        redirect_uris=[PSC_REDIRECT_URI, PSC_SERVED_REDIRECT_URI],
    )
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="session")
def env(stack: Stack) -> dict[str, str]:
    # Sending at once: tests/views/test_undo_send.py sets its own delay.
    return webmail_env(stack, MSS_UNDO_SEND_SECONDS="0")


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


def new_user(stack: Stack, domain: str = "medecin.mssante.test") -> MailUser:
    address = f"t{next(_counter)}-{secrets.token_hex(3)}@{domain}"
    password = "pw-" + secrets.token_urlsafe(12)
    stack.add_user(address, password)
    return MailUser(address, password)


@pytest.fixture
def user(stack: Stack) -> MailUser:
    return new_user(stack)


@pytest.fixture
def other_user(stack: Stack) -> MailUser:
    return new_user(stack, "infirmier.mssante.test")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as test_client:
        yield test_client


OTP_SECRETS: dict[str, str] = {}
_LAST_OTP_STEP: dict[str, int] = {}


def post_password(client: TestClient, address: str, password: str, **kwargs: Any) -> Response:
    """The login form's first step as a browser sends it, with the form's own token."""
    page = client.get("/login")
    data = {
        "address": address,
        "password": password,
        "login_token": form_value(page.text, "login_token"),
    }
    return client.post("/login", data=data, **kwargs)


def login(client: TestClient, user: MailUser) -> None:
    """Both factors, as a user does: password, then enrolment (first time) or a TOTP code."""
    response = post_password(client, user.address, user.password)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/login/otp"
    second = client.get("/login/otp")
    if second.template.name == "pages/enrol.html":
        OTP_SECRETS[user.address] = otp_secret_shown(second.text)
        done = client.post(
            "/login/otp",
            data={"csrf_token": form_value(second.text, "csrf_token"), "code": fresh_code(user)},
        )
        assert done.template.name == "pages/recovery_codes.html", done.text
        return
    done = client.post(
        "/login/otp",
        data={"csrf_token": form_value(second.text, "csrf_token"), "code": fresh_code(user)},
    )
    assert done.status_code == 303, done.text


def otp_secret_shown(html: str) -> str:
    return "".join(soup(html).select_one("#secret").get_text().split())


def fresh_code(user: MailUser) -> str:
    """A code the server has not seen yet (a second login in the same 30 s uses the next step)."""
    totp = pyotp.TOTP(OTP_SECRETS[user.address])
    step = max(int(time.time() // 30), _LAST_OTP_STEP.get(user.address, 0) + 1)
    _LAST_OTP_STEP[user.address] = step
    return totp.at(step * 30)


@pytest.fixture
def logged_in(client: TestClient, user: MailUser) -> TestClient:
    login(client, user)
    return client


def form_value(html: str, name: str) -> str:
    field = BeautifulSoup(html, "html.parser").find("input", attrs={"name": name})
    assert field is not None, f"no input named {name}"
    return str(field.get("value", ""))


def csrf_token(client: TestClient) -> str:
    return form_value(client.get("/compose").text, "csrf_token")


# -- direct IMAP access, to check what the server really holds ---------------------------


def imap_for(stack: Stack, user: MailUser) -> imaplib.IMAP4:
    context = ssl.create_default_context(cafile=str(stack.ca_cert))
    imap = imaplib.IMAP4(stack.imap_host, stack.imap)
    imap.starttls(context)
    imap.login(user.address, user.password)
    return imap


def deliver(
    stack: Stack,
    user: MailUser,
    message: EmailMessage | bytes,
    folder: str = "INBOX",
    flags: str = "",
) -> int:
    """Put a message straight into a mailbox; returns its UID."""
    raw = message if isinstance(message, bytes) else message.as_bytes()
    imap = imap_for(stack, user)
    try:
        typ, data = imap.append(folder, f"({flags})" if flags else None, None, raw)
        assert typ == "OK", data
        code = data[0].decode() if data and data[0] else ""
        # "[APPENDUID <validity> <uid>] ..."
        return int(code.split("APPENDUID", 1)[1].split()[1].rstrip("]"))
    finally:
        imap.logout()


def wait_for_messages(
    stack: Stack, user: MailUser, folder: str = "INBOX", count: int = 1, timeout: float = 15.0
) -> list[bytes]:
    """Poll until ``folder`` holds at least ``count`` messages; return them all, oldest first."""
    deadline = time.monotonic() + timeout
    while True:
        imap = imap_for(stack, user)
        try:
            # A mailbox that has never received mail may not exist yet: keep polling.
            selected, _ = imap.select(f'"{folder}"', readonly=True)
            uids: list[bytes] = []
            if selected == "OK":
                _typ, data = imap.uid("SEARCH", "ALL")
                uids = data[0].split() if data and data[0] else []
            if len(uids) >= count:
                messages = []
                for uid in uids:
                    _typ, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                    messages.append(fetched[0][1])
                return messages
        finally:
            imap.logout()
        if time.monotonic() > deadline:
            raise AssertionError(f"{folder} of {user.address} has fewer than {count} messages")
        time.sleep(0.2)


def simple_mail(
    sender: str, to: str, subject: str, body: str = "Bonjour,\n\nCordialement."
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Tue, 24 Nov 2026 10:00:00 +0100"
    message["Message-ID"] = f"<{secrets.token_hex(8)}@chu-demo.mssante.test>"
    message.set_content(body)
    return message


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


ROOT = Path(__file__).resolve().parent.parent


# -- shared (organisational) mailboxes: real Dovecot ACLs ---------------------------------

# Every right a team member needs to work in a shared mailbox (RFC 4314), and read-only.
WORK_RIGHTS = seed.WORK_RIGHTS
READ_RIGHTS = "lr"
# Secretaries of the test practice: organisational mailboxes only (MSS_ORGANISATIONAL_ONLY_ACCOUNTS).
SECRETARY_PATTERN = "secretaire-*@cabinet.mssante.test"


@dataclass(frozen=True)
class SharedMailbox:
    """An organisational mailbox (a secretariat), a practitioner and a secretary who may
    work in it, and their shared namespace name for it (``shared/<address>/``)."""

    owner: MailUser
    practitioner: MailUser
    secretary: MailUser


def new_secretary(stack: Stack) -> MailUser:
    address = f"secretaire-{next(_counter)}-{secrets.token_hex(3)}@cabinet.mssante.test"
    password = "pw-" + secrets.token_urlsafe(12)
    stack.add_user(address, password)
    return MailUser(address, password)


def share(
    stack: Stack,
    owner: MailUser,
    grantee: MailUser,
    rights: str = WORK_RIGHTS,
    folders: tuple[str, ...] = seed.SHARED_FOLDERS,
) -> None:
    """Share ``owner``'s folders with ``grantee``, as an operator does (doveadm acl set);
    with the right to add messages comes the right to send from the owner's address."""
    seed.share_mailbox(stack, owner.address, [grantee.address], rights, folders)


@pytest.fixture
def shared_mailbox(stack: Stack, user: MailUser) -> SharedMailbox:
    owner = new_user(stack, "cabinet.mssante.test")
    imap_for(stack, owner).logout()  # the first login creates its Sent, Drafts, Trash
    secretary = new_secretary(stack)
    share(stack, owner, user)
    share(stack, owner, secretary)
    return SharedMailbox(owner=owner, practitioner=user, secretary=secretary)
