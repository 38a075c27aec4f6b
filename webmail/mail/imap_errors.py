"""The typed IMAP failures: aioimaplib answers NO/BAD as data, and ``imap.py`` turns every
one of them into one of these, so that no call site reads a result by hand."""

from __future__ import annotations

import re


class ImapError(Exception):
    """Base of every IMAP failure."""


class ImapUnavailable(ImapError):
    """The server cannot be reached, or the connection broke or timed out."""


class ImapAuthFailed(ImapError):
    """The server refused the credentials."""


class ImapTokenRefused(ImapAuthFailed):
    """The server refused an OAuth access token (Pro Santé Connect) that the session took
    for valid: revoked at the provider, or not accepted for this mailbox."""


class ImapConnectionLimit(ImapUnavailable):
    """The credentials are right but the server allows no more connections for this account
    (RFC 5530 ``[LIMIT]``, e.g. Dovecot's mail_max_userip_connections): not a wrong password."""


class ImapCommandFailed(ImapError):
    def __init__(self, command: str, result: str, text: str) -> None:
        super().__init__(f"{command} {result}: {text}")
        self.command = command
        self.result = result
        self.text = text


class MailboxNotFound(ImapCommandFailed):
    """SELECT, STATUS or a move target named a mailbox the server does not have."""


# RFC 5530 response codes that say the login failed for a reason other than the password.
_LIMIT_CODES = ("[LIMIT]", "[INUSE]")
_UNAVAILABLE_CODES = ("[UNAVAILABLE]", "[SERVERBUG]")
# Servers that predate RFC 5530 say it in words (Dovecot, Cyrus, Courier, Exchange).
_LIMIT_WORDS = re.compile(
    r"too many (simultaneous |concurrent )?connections|maximum number of connections", re.I
)


def login_refusal(text: str) -> ImapError:
    """What a refused LOGIN or AUTHENTICATE means: a connection limit, a server down, or
    (the default) wrong credentials."""
    upper = text.upper()
    if any(code in upper for code in _LIMIT_CODES) or _LIMIT_WORDS.search(text):
        return ImapConnectionLimit(text)
    if any(code in upper for code in _UNAVAILABLE_CODES):
        return ImapUnavailable(text)
    return ImapAuthFailed(text)
