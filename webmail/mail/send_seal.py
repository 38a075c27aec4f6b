"""What a scheduled send needs to leave without its browser, sealed with the server's key.

During the undo delay (``mail/scheduled.py``) the message must still leave if the process
that took Envoyer dies: any instance's recovery pass then sends it. That instance has no
session cookie, so it cannot open the session's credential. At scheduling time the send
is therefore sealed, whole, with a key derived from ``MSS_SECRET_KEY`` (HKDF-SHA256, a
label of its own) under AES-GCM, the ledger key as associated data so that a sealed send
opens for its own message only. What is sealed: the SMTP credential (the password, or the
Pro Santé Connect access and refresh tokens) and the exact bytes to send, built when the
user pressed Envoyer, rather than a pointer to the Drafts copy: what leaves is what the
user sent, even if the draft changes or cannot be read back meanwhile.

The sealed value lives in Redis for the delay and a grace period at most, and is deleted
by the same script that decides the message's fate (taken, cancelled or declared lost).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import asdict, dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PURPOSE = b"mss-webmail scheduled send v1"


@dataclass(frozen=True)
class Credential:
    """How the send logs in: a password, or (``psc``) an access token that can be renewed."""

    method: str  # "password" or "psc"
    secret: str  # the password, or the access token
    refresh_token: str = ""
    id_token: str = ""
    expires_at: float = 0.0


@dataclass(frozen=True)
class SealedSend:
    """Everything another instance needs to finish a scheduled send."""

    account: str
    message_id: str
    credential: Credential
    message: bytes  # the RFC 5322 message, Bcc included (the SMTP client drops it)
    recipients: list[str]
    author: str  # the envelope sender
    session_key: str  # the session's hash: its IMAP connection, for the Sent copy
    mailbox: str = ""  # the organisational mailbox written from, if any
    from_name: str = ""
    # The message answered (for \\Answered): mode, folder, UID.
    origin: dict[str, str | int | None] = field(default_factory=dict)
    client_ip: str = ""

    def encode(self) -> bytes:
        data = asdict(self)
        data["message"] = base64.b64encode(self.message).decode()
        return json.dumps(data).encode()

    @classmethod
    def decode(cls, raw: bytes) -> SealedSend | None:
        try:
            data = json.loads(raw)
            data["credential"] = Credential(**data["credential"])
            data["message"] = base64.b64decode(data["message"])
            return cls(**data)
        except (ValueError, KeyError, TypeError):
            return None


class SendSeal:
    def __init__(self, secret_key: str) -> None:
        self._aead = AESGCM(derive_key(secret_key))

    def seal(self, send: SealedSend, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, send.encode(), context.encode())
        return base64.b64encode(nonce + sealed).decode()

    def open(self, token: bytes | str, context: str) -> SealedSend | None:
        """The sealed send, or None when it was sealed for another message or with another
        key (the secret changed), or altered."""
        try:
            data = base64.b64decode(token)
            plain = self._aead.decrypt(data[:12], data[12:], context.encode())
        except (ValueError, InvalidTag):
            return None
        return SealedSend.decode(plain)


def derive_key(secret_key: str) -> bytes:
    """A key for this purpose only: the secret key also signs other things."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE)
    return hkdf.derive(secret_key.encode())
