"""Sending through the operator's SMTP submission service, authenticated as the user."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from webmail.settings import ServerSettings, TlsMode


class SmtpError(Exception):
    """Base of sending failures; ``message`` is a French sentence for the user."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class SmtpUnavailable(SmtpError):
    """The server could not be reached or dropped the connection: nothing was sent."""


class SmtpRefused(SmtpError):
    """The server refused the message (size, policy, every recipient): nothing was sent."""


@dataclass(frozen=True)
class SendResult:
    refused: dict[str, str]  # recipient -> server's answer, for recipients refused one by one


async def send(
    server: ServerSettings,
    ssl_context: ssl.SSLContext,
    user: str,
    password: str,
    message: EmailMessage,
    recipients: list[str],
    timeout: float,
) -> SendResult:
    client = aiosmtplib.SMTP(
        hostname=server.host,
        port=server.port,
        use_tls=server.tls is TlsMode.IMPLICIT,
        start_tls=server.tls is TlsMode.STARTTLS,
        tls_context=ssl_context,
        timeout=timeout,
    )
    try:
        async with client:
            await client.login(user, password)
            refused, _ = await client.send_message(message, sender=user, recipients=recipients)
    except aiosmtplib.SMTPAuthenticationError as error:
        raise SmtpRefused(
            "Le serveur d'envoi a refusé l'identification.", detail=str(error)
        ) from error
    except aiosmtplib.SMTPRecipientsRefused as error:
        answers = "; ".join(f"{r.recipient} ({r.code})" for r in error.recipients)
        raise SmtpRefused("Tous les destinataires ont été refusés.", detail=answers) from error
    except aiosmtplib.SMTPDataError as error:
        if error.code == 552:
            raise SmtpRefused(
                "Le message est trop volumineux pour le serveur d'envoi.", detail=str(error)
            ) from error
        raise SmtpRefused("Le serveur d'envoi a refusé le message.", detail=str(error)) from error
    except aiosmtplib.SMTPSenderRefused as error:
        raise SmtpRefused("Le serveur d'envoi a refusé l'expéditeur.", detail=str(error)) from error
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        raise SmtpUnavailable("Le serveur d'envoi est injoignable.", detail=repr(error)) from error
    return SendResult(
        refused={
            recipient: f"{response.code} {response.message}"
            for recipient, response in refused.items()
        }
    )
