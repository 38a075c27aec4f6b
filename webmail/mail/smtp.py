"""Sending through the operator's SMTP submission service, authenticated as the user.

aiosmtplib's ``send_message`` runs MAIL, RCPT and DATA in one call and hides where it failed.
Whether a failure is safe to retry depends on exactly that: until the final dot has been
written the server cannot have accepted the message; after it, silence or a dropped
connection may follow an acceptance. So this module drives the transaction itself and raises
a different error for each case.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import cast

import aiosmtplib
from aiosmtplib.email import flatten_message
from aiosmtplib.protocol import SMTPProtocol

from webmail.i18n import N_
from webmail.mail.sasl import TOKEN_REFUSED, AccessToken
from webmail.settings import ServerSettings, SmtpTimeouts, TlsMode

log = logging.getLogger(__name__)

_LINE_ENDINGS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f]+")
# MAIL FROM refused: said apart, since a read receipt then retries with another sender.
SENDER_REFUSED = N_("Le serveur d'envoi a refusé l'expéditeur.")


@dataclass(frozen=True)
class ServerReply:
    """What the server answered, as data: shown to the user escaped, never translated."""

    code: int
    text: str

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    def __str__(self) -> str:
        text = _UNPRINTABLE.sub(" ", self.text).strip()[:300]
        return f"{self.code} {text}".strip() if self.code > 0 else text


class SmtpError(Exception):
    """Base of sending failures; ``message`` is a French source string (``N_``)."""

    message = N_("L'envoi a échoué.")

    def __init__(
        self,
        message: str | None = None,
        *,
        reply: ServerReply | None = None,
        refused: dict[str, ServerReply] | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message
        self.reply = reply
        self.refused = refused or {}
        answers = "; ".join(f"{address}: {answer}" for address, answer in self.refused.items())
        self.detail = detail or (str(reply) if reply else answers)


class SmtpUnavailable(SmtpError):
    """The server could not be reached, or failed before the message was transmitted:
    nothing was sent, trying again is safe."""

    message = N_(
        "Le serveur d'envoi est injoignable : le message n'a pas été envoyé. "
        "Vous pouvez réessayer sans risque de doublon."
    )


class SmtpRefused(SmtpError):
    """The server refused for good (size, policy, every recipient): nothing was sent."""


class SmtpTokenRefused(SmtpRefused):
    """The server refused the session's access token (Pro Santé Connect): nothing was sent,
    the user must sign in again."""

    message = TOKEN_REFUSED


class SmtpDeferred(SmtpError):
    """The server refused for now (a 4xx answer): nothing was sent, try again later."""

    message = N_(
        "Le serveur d'envoi refuse temporairement le message : rien n'a été envoyé. "
        "Réessayez plus tard."
    )


class SmtpOutcomeUnknown(SmtpError):
    """The whole message was transmitted but no answer came: it may have been accepted."""

    message = N_(
        "Le serveur d'envoi n'a pas confirmé la réception : le message est peut-être parti. "
        "Vérifiez auprès des destinataires avant de le renvoyer, sinon ils risquent de le "
        "recevoir deux fois."
    )


@dataclass(frozen=True)
class SendResult:
    # Recipients refused one by one while others were accepted, with the server's answer.
    refused: dict[str, ServerReply] = field(default_factory=dict)


async def send(
    server: ServerSettings,
    ssl_context: ssl.SSLContext,
    sender: str,
    password: str,
    message: EmailMessage,
    recipients: list[str],
    timeouts: SmtpTimeouts,
    *,
    login: str | None = None,
) -> SendResult:
    """Send ``message`` from ``sender`` to ``recipients``, logging in as ``login`` (the
    sender's address unless the operator's servers want another user name)."""
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        use_tls=server.tls is TlsMode.IMPLICIT,
        start_tls=server.tls is TlsMode.STARTTLS,
        tls_context=ssl_context,
        timeout=timeouts.command,
    )
    try:
        await _open(client, login or sender, password)
        return await _transaction(client, sender, message, recipients, timeouts)
    finally:
        await _quit(client)


async def _open(client: aiosmtplib.SMTP, login: str, password: str) -> None:
    try:
        await client.connect()
        if isinstance(password, AccessToken):
            # Pro Santé Connect: the access token instead of a password.
            await client.auth_xoauth2(login, str(password))
        else:
            await client.login(login, password)
    except aiosmtplib.SMTPAuthenticationError as error:
        reply = ServerReply(error.code, error.message)
        if reply.temporary:
            raise SmtpDeferred(reply=reply) from error
        if isinstance(password, AccessToken):
            raise SmtpTokenRefused(reply=reply) from error
        raise SmtpRefused(
            N_("Le serveur d'envoi a refusé l'identification."), reply=reply
        ) from error
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as error:
        raise SmtpUnavailable(detail=repr(error)) from error


async def _transaction(
    client: aiosmtplib.SMTP,
    sender: str,
    message: EmailMessage,
    recipients: list[str],
    timeouts: SmtpTimeouts,
) -> SendResult:
    try:
        options, data = _envelope_options(client, sender, recipients, message)
        await _mail_from(client, sender, options)
        refused = await _rcpt_to(client, recipients)
        await _start_data(client)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        # Before the message itself: whatever happened, the server cannot have accepted it.
        raise SmtpUnavailable(detail=repr(error)) from error
    except ValueError as error:  # an address aiosmtplib will not put on a command line
        raise SmtpRefused(detail=str(error)) from error
    reply = await _transmit(client, data, timeouts.data_end)
    if 200 <= reply.code < 300:
        return SendResult(refused=refused)
    raise _refusal(reply, N_("Le serveur d'envoi a refusé le message."))


def _refusal(reply: ServerReply, message: str) -> SmtpError:
    """A refusal of the message: for now (4xx), for its size (552), or ``message``."""
    if reply.temporary:
        return SmtpDeferred(reply=reply)
    if reply.code == 552:
        return SmtpRefused(
            N_("Le message est trop volumineux pour le serveur d'envoi."), reply=reply
        )
    return SmtpRefused(message, reply=reply)


def _envelope_options(
    client: aiosmtplib.SMTP, sender: str, recipients: list[str], message: EmailMessage
) -> tuple[list[str], bytes]:
    """MAIL FROM options and the bytes to transmit, as aiosmtplib's send_message would."""
    options: list[str] = []
    utf8 = not (sender + "".join(recipients)).isascii()
    if utf8:
        if not client.supports_extension("smtputf8"):
            raise SmtpRefused(N_("Le serveur d'envoi n'accepte pas les adresses accentuées."))
        options.append("SMTPUTF8")
    eight_bit = client.supports_extension("8bitmime")
    if eight_bit:
        options.append("BODY=8BITMIME")
    flat = flatten_message(message, utf8=utf8, cte_type="8bit" if eight_bit else "7bit")
    data = _LINE_ENDINGS.sub(b"\r\n", flat)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if client.supports_extension("size"):
        options.insert(0, f"SIZE={len(data)}")
    return options, data


async def _mail_from(client: aiosmtplib.SMTP, sender: str, options: list[str]) -> None:
    try:
        await client.mail(sender, options=options, encoding=_encoding(options))
    except aiosmtplib.SMTPSenderRefused as error:
        reply = ServerReply(error.code, error.message)
        raise _refusal(reply, SENDER_REFUSED) from error


async def _rcpt_to(client: aiosmtplib.SMTP, recipients: list[str]) -> dict[str, ServerReply]:
    refused: dict[str, ServerReply] = {}
    for recipient in recipients:
        try:
            await client.rcpt(recipient, encoding="utf-8" if not recipient.isascii() else "ascii")
        except aiosmtplib.SMTPRecipientRefused as error:
            refused[recipient] = ServerReply(error.code, error.message)
    if len(refused) == len(recipients):
        await _reset(client)
        if all(reply.temporary for reply in refused.values()):
            raise SmtpDeferred(refused=refused)
        raise SmtpRefused(N_("Tous les destinataires ont été refusés."), refused=refused)
    return refused


async def _start_data(client: aiosmtplib.SMTP) -> None:
    response = await client.execute_command(b"DATA")
    if response.code == 354:
        return
    reply = ServerReply(response.code, response.message)
    await _reset(client)
    if reply.temporary:
        raise SmtpDeferred(reply=reply)
    raise SmtpRefused(N_("Le serveur d'envoi a refusé le message."), reply=reply)


async def _transmit(client: aiosmtplib.SMTP, data: bytes, timeout: float) -> ServerReply:
    """Write the message, then its final dot, then wait for the verdict. Until the dot is
    written the server cannot accept it; once it is, no failure may be called "not sent"."""
    protocol = client.protocol
    try:
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost before the message")
        protocol.write(_LEADING_DOT.sub(b"..", data))
        await _flushed(protocol, timeout)
        protocol.write(b".\r\n")
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        client.close()
        raise SmtpUnavailable(detail=repr(error)) from error
    try:
        response = await protocol.read_response(timeout=timeout)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        client.close()  # a late answer must never be read as the reply to another command
        log.warning("no answer after the final dot: %s", type(error).__name__)
        raise SmtpOutcomeUnknown(detail=repr(error)) from error
    return ServerReply(response.code, response.message)


async def _flushed(protocol: SMTPProtocol, timeout: float) -> None:
    """Wait until the message has left our buffers: a connection lost meanwhile is then
    known to have happened before the dot."""
    deadline = time.monotonic() + timeout
    while True:
        transport = protocol.transport
        if transport is None or transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("connection lost during the message")
        if not cast(asyncio.WriteTransport, transport).get_write_buffer_size():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("message not written in time")
        await asyncio.sleep(0.02)


async def _reset(client: aiosmtplib.SMTP) -> None:
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()


async def _quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit(timeout=2)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()


def _encoding(options: list[str]) -> str:
    return "utf-8" if "SMTPUTF8" in options else "ascii"
