"""The optional second channel: a one-time code sent by email to the account's recovery
address (``MSS_EMAIL_OTP``).

Both the code and the resend limit live per account in Redis, not in a session: five
password logins must not send five emails, and one code must open one session only. The
code is kept as a keyed hash and consumed by one script that compares and deletes it, so two
requests carrying it at the same instant cannot both win.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from redis.asyncio import Redis

from webmail.auth.networks import account_digest
from webmail.auth.sessions import redis_errors
from webmail.i18n import _

PREFIX = "mss:otp-email:"
CODE_SECONDS = 600
RESEND_SECONDS = 60

# KEYS[1]: the account's code hash; ARGV[1]: the hash of the code typed.
_CONSUME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def message(sender: str, to: str, code: str) -> EmailMessage:
    """The email carrying ``code``, sent by the account to its own recovery address."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    # In the language of the page that asked for it (the request's).
    mail["Subject"] = _("Code de connexion à votre messagerie sécurisée")
    mail["Date"] = format_datetime(datetime.now().astimezone())
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    mail.set_content(
        _(
            "Votre code de connexion : {code}\n\nIl est valable 10 minutes, pour une seule "
            "connexion. Si vous n'avez pas demandé ce code, quelqu'un connaît votre mot de passe : "
            "changez-le et prévenez votre opérateur.\n"
        ).format(code=code)
    )
    return mail


def masked(address: str) -> str:
    """The recovery address as the code page hints at it: ``j***@example.org``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


class EmailCodes:
    def __init__(self, redis: Redis, hash_key: bytes) -> None:
        self.redis = redis
        self._hash_key = hash_key
        self._consume = redis.register_script(_CONSUME)

    async def may_send(self, account: str) -> bool:
        """Claim the right to send a code now: at most one per account and minute."""
        with redis_errors():
            return bool(
                await self.redis.set(self._key("sent", account), "1", nx=True, ex=RESEND_SECONDS)
            )

    async def send_failed(self, account: str) -> None:
        """Nothing went out: the user may ask again at once."""
        with redis_errors():
            await self.redis.delete(self._key("sent", account))

    async def store(self, account: str, code: str) -> None:
        """Make ``code`` (just sent) the account's one valid code, replacing any earlier one."""
        with redis_errors():
            await self.redis.set(
                self._key("code", account), self._hash(account, code), ex=CODE_SECONDS
            )

    async def consume(self, account: str, code: str) -> bool:
        """True for exactly one request carrying the current code; it is then gone."""
        with redis_errors():
            found = await self._consume(
                keys=[self._key("code", account)], args=[self._hash(account, code)]
            )
        return bool(found)

    def _hash(self, account: str, code: str) -> str:
        message = f"{account.lower()}\x00{code}".encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()

    def _key(self, kind: str, account: str) -> str:
        return f"{PREFIX}{kind}:{account_digest(account)}"
