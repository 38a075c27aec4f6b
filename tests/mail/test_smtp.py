"""The SMTP layer tells apart "nothing was sent" from "may have been sent", against a server
that fails at each step on purpose, and sends for real through the test stack's Postfix."""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import os
import ssl
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, simple_mail, wait_for_messages
from tests.mail.fake_smtp import DROP, SILENCE, FakeSmtp, fake_smtp
from webmail.mail import smtp
from webmail.settings import ServerSettings, SmtpTimeouts, TlsMode

TIMEOUTS = SmtpTimeouts(command=2.0, data_end=0.5)
SENDER = "dr.test@medecin.mssante.test"
TO = ["a@chu-demo.mssante.test", "b@chu-demo.mssante.test"]


@pytest.fixture
def fake() -> Iterator[FakeSmtp]:
    with fake_smtp() as server:
        yield server


def message() -> EmailMessage:
    return simple_mail(SENDER, ", ".join(TO), "Compte rendu", "Bonjour,\n.\nLigne avec un point.")


async def send_to(server: FakeSmtp, recipients: list[str] = TO) -> smtp.SendResult:
    return await smtp.send(
        ServerSettings("127.0.0.1", server.port, TlsMode.NONE),
        ssl.create_default_context(),
        SENDER,
        "secret",
        message(),
        recipients,
        TIMEOUTS,
    )


async def test_accepted_message_arrives_dot_stuffed_back(fake: FakeSmtp) -> None:
    result = await send_to(fake)
    assert result.refused == {}
    [received] = fake.received
    assert received.sender == SENDER and received.recipients == TO
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert parsed.get_content().splitlines()[1] == "."  # a lone dot line survives stuffing


@pytest.mark.parametrize("after_dot", [SILENCE, DROP])
async def test_no_answer_after_the_final_dot_is_outcome_unknown(
    fake: FakeSmtp, after_dot: str
) -> None:
    fake.script.after_dot = after_dot
    started = time.monotonic()
    with pytest.raises(smtp.SmtpOutcomeUnknown) as caught:
        await send_to(fake)
    assert len(fake.received) == 1  # the server did get the whole message
    assert "peut-être parti" in caught.value.message
    assert time.monotonic() - started < TIMEOUTS.data_end + 1.5  # its own, short timeout


async def test_drop_before_data_is_nothing_sent(fake: FakeSmtp) -> None:
    fake.script.data = DROP
    with pytest.raises(smtp.SmtpUnavailable) as caught:
        await send_to(fake)
    assert fake.received == []
    assert "sans risque de doublon" in caught.value.message


async def test_drop_while_the_message_is_written_is_nothing_sent(fake: FakeSmtp) -> None:
    # Far more than the socket buffers hold: the drop comes before the dot can be written.
    fake.script.drop_within_message = 64 * 1024
    big = message()
    big.add_attachment(os.urandom(24 * 1024 * 1024), maintype="application", subtype="pdf")
    with pytest.raises(smtp.SmtpUnavailable):
        await smtp.send(
            ServerSettings("127.0.0.1", fake.port, TlsMode.NONE),
            ssl.create_default_context(),
            SENDER,
            "secret",
            big,
            TO,
            SmtpTimeouts(command=2.0, data_end=10.0),
        )
    assert fake.received == []


async def test_unreachable_server_is_nothing_sent() -> None:
    with fake_smtp() as server:
        port = server.port
    with pytest.raises(smtp.SmtpUnavailable):
        await smtp.send(
            ServerSettings("127.0.0.1", port, TlsMode.NONE),
            ssl.create_default_context(),
            SENDER,
            "secret",
            message(),
            TO,
            TIMEOUTS,
        )


async def test_temporary_refusal_of_one_recipient_is_reported_as_temporary(
    fake: FakeSmtp,
) -> None:
    fake.script.rcpt = {TO[1]: "450 4.2.1 Mailbox busy, try later"}
    result = await send_to(fake)
    assert list(result.refused) == [TO[1]]
    reply = result.refused[TO[1]]
    assert reply.temporary and str(reply) == "450 4.2.1 Mailbox busy, try later"
    assert fake.received[0].recipients == [TO[0]]


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        (["451 4.3.0 Try again", "452 4.3.1 Full"], smtp.SmtpDeferred),
        (["550 5.1.1 Unknown", "451 4.3.0 Try again"], smtp.SmtpRefused),
    ],
)
async def test_every_recipient_refused(
    fake: FakeSmtp, replies: list[str], error: type[smtp.SmtpError]
) -> None:
    fake.script.rcpt = dict(zip(TO, replies, strict=True))
    with pytest.raises(error) as caught:
        await send_to(fake)
    assert type(caught.value) is error
    assert {a: str(r) for a, r in caught.value.refused.items()} == dict(
        zip(TO, replies, strict=True)
    )
    assert fake.received == []
    assert caught.value.detail == "; ".join(f"{a}: {r}" for a, r in zip(TO, replies, strict=True))


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        ("451 4.3.0 Queue full, try later", smtp.SmtpDeferred, "Réessayez plus tard"),
        ("554 5.7.1 Rejected by policy", smtp.SmtpRefused, "refusé le message"),
        ("552 5.3.4 Message size exceeds fixed limit", smtp.SmtpRefused, "trop volumineux"),
    ],
)
async def test_answer_to_the_final_dot_is_a_clean_refusal(
    fake: FakeSmtp, reply: str, error: type[smtp.SmtpError], words: str
) -> None:
    fake.script.after_dot = reply
    with pytest.raises(error) as caught:
        await send_to(fake)
    assert type(caught.value) is error
    assert words in caught.value.message
    # The server's words, as it said them: no Python tuple, no repr.
    assert str(caught.value.reply) == reply
    assert caught.value.detail == reply


async def test_temporary_refusal_at_mail_from(fake: FakeSmtp) -> None:
    fake.script.mail = "421 4.7.0 Too many connections"
    with pytest.raises((smtp.SmtpDeferred, smtp.SmtpUnavailable)):
        await send_to(fake)
    assert fake.received == []


async def test_hostile_server_text_is_kept_as_data(fake: FakeSmtp) -> None:
    fake.script.after_dot = "554 5.7.1 <a href=x hx-get=/x>%s {0}\x07 &amp;"
    with pytest.raises(smtp.SmtpRefused) as caught:
        await send_to(fake)
    assert str(caught.value.reply) == "554 5.7.1 <a href=x hx-get=/x>%s {0} &amp;"
    assert "<a" not in caught.value.message  # the French sentence never embeds it


async def test_login_name_is_separate_from_the_sender(fake: FakeSmtp) -> None:
    await smtp.send(
        ServerSettings("127.0.0.1", fake.port, TlsMode.NONE),
        ssl.create_default_context(),
        SENDER,
        "secret",
        message(),
        TO,
        TIMEOUTS,
        login="dr.test",
    )
    [auth] = [line for line in fake.commands if line.startswith("AUTH")]
    assert base64.b64decode(auth.split()[-1]) == b"\x00dr.test\x00secret"
    assert fake.received[0].sender == SENDER


async def test_real_postfix_delivers(stack: Stack, user: MailUser, other_user: MailUser) -> None:
    context = ssl.create_default_context(cafile=str(stack.ca_cert))
    mail = simple_mail(user.address, other_user.address, "Par le vrai Postfix")
    await smtp.send(
        ServerSettings("localhost", stack.submission, TlsMode.STARTTLS),
        context,
        user.address,
        user.password,
        mail,
        [other_user.address],
        TIMEOUTS,
    )
    [raw] = wait_for_messages(stack, other_user)
    assert email.message_from_bytes(raw)["Message-ID"] == mail["Message-ID"]


async def test_real_postfix_refuses_a_wrong_password(stack: Stack, user: MailUser) -> None:
    context = ssl.create_default_context(cafile=str(stack.ca_cert))
    with pytest.raises(smtp.SmtpRefused) as caught:
        await smtp.send(
            ServerSettings("localhost", stack.submission, TlsMode.STARTTLS),
            context,
            user.address,
            "wrong",
            simple_mail(user.address, user.address, "x"),
            [user.address],
            TIMEOUTS,
        )
    assert "identification" in caught.value.message


def test_smtp_timeouts_are_their_own_settings() -> None:
    from webmail.settings import Settings, SettingsError

    base = {
        "MSS_IMAP_HOST": "imap.example.mssante.fr",
        "MSS_SMTP_HOST": "smtp.example.mssante.fr",
        "MSS_SECRET_KEY": "x" * 40,
        "MSS_DATA_DIR": "/tmp",
        "MSS_IMAP_TIMEOUT_SECONDS": "7",
    }
    # Under a minute in all, for the browser (and nginx's default proxy_read_timeout).
    assert Settings.from_env(base).smtp_timeouts == SmtpTimeouts(command=15.0, data_end=40.0)
    chosen = Settings.from_env(
        {**base, "MSS_SMTP_TIMEOUT_SECONDS": "20", "MSS_SMTP_DATA_TIMEOUT_SECONDS": "120"}
    )
    assert chosen.smtp_timeouts == SmtpTimeouts(command=20.0, data_end=120.0)
    with pytest.raises(SettingsError, match="MSS_SMTP_DATA_TIMEOUT_SECONDS"):
        Settings.from_env({**base, "MSS_SMTP_DATA_TIMEOUT_SECONDS": "3600"})


@pytest.mark.parametrize(
    "recipient", ["a@chu-demo.mssante.test> NOTIFY=NEVER", "a@chu-demo.mssante.test\r\nRSET"]
)
async def test_address_that_would_inject_a_command_never_does(
    fake: FakeSmtp, recipient: str
) -> None:
    with contextlib.suppress(smtp.SmtpRefused):  # refused cleanly, or sent to the address
        await send_to(fake, [recipient])
    assert not any("NOTIFY" in line or line == "RSET" for line in fake.commands)
