"""The second factor: TOTP (RFC 6238, 6 digits, 30 s) and single-use recovery codes.

Secrets are stored in Redis encrypted with a key derived from the deployment's secret key;
recovery codes only as keyed hashes. Losing or copying Redis lets nobody in without a factor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import time
from dataclasses import asdict, dataclass, field

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis
from redis.exceptions import RedisError

from webmail.auth.sessions import SessionStoreUnavailable

PREFIX = "mss:totp:"
ISSUER = "MSSanté"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


class Verdict:
    OK = "ok"
    RECOVERY = "recovery"
    REPLAY = "replay"
    WRONG = "wrong"


@dataclass
class Enrolment:
    """What Redis keeps for one account, encrypted secret included."""

    secret: str  # encrypted, base64
    last_step: int = 0  # the newest time step accepted: an older or equal one is a replay
    recovery: list[str] = field(default_factory=list)  # keyed hashes of unused codes
    enrolled_at: float = 0.0
    recovery_email: str = ""  # encrypted; where a one-time code may be sent, if enabled


def new_secret() -> str:
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG, drawn here: the secret never leaves the server."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer,
        kind="svg",
        scale=5,
        border=3,
        xmldecl=False,
        svgns=True,
        dark="#111",
        title="QR code",
        svgclass="qr",
    )
    return buffer.getvalue().decode()


def code_matches_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step that ``code`` belongs to, within ±1 step of now; None if none."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    found = None
    for candidate in (step - 1, step, step + 1):
        # compare_digest over every candidate: no early exit that would time the answer
        if hmac.compare_digest(totp.at(candidate * totp.interval), code):
            found = candidate
    return found


class SecondFactorStore:
    def __init__(self, redis: Redis, secret_key: str) -> None:
        self.redis = redis
        self._aead = AESGCM(_derive(secret_key, b"mss-webmail totp secrets"))
        self._hash_key = _derive(secret_key, b"mss-webmail recovery codes")

    async def load(self, account: str) -> Enrolment | None:
        try:
            raw = await self.redis.get(self._key(account))
        except (RedisError, OSError) as error:
            raise SessionStoreUnavailable(str(error)) from error
        if raw is None:
            return None
        data = json.loads(raw)
        return Enrolment(**{k: v for k, v in data.items() if k in Enrolment.__dataclass_fields__})

    async def enrol(self, account: str, secret: str, confirmed_step: int) -> list[str]:
        """Store a secret the user proved to hold (a code of ``confirmed_step``) and fresh
        recovery codes; returns the codes, to be shown once."""
        codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
        enrolment = Enrolment(
            secret=self._encrypt(secret, account),
            recovery=[self._hash(code) for code in codes],
            enrolled_at=time.time(),
            last_step=confirmed_step,  # the code just used cannot be replayed
        )
        await self._save(account, enrolment)
        return codes

    async def regenerate_recovery(self, account: str) -> list[str]:
        enrolment = await self.load(account)
        if enrolment is None:
            raise LookupError("not enrolled")
        codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
        enrolment.recovery = [self._hash(code) for code in codes]
        await self._save(account, enrolment)
        return codes

    async def set_recovery_email(self, account: str, address: str) -> None:
        enrolment = await self.load(account)
        if enrolment is None:
            raise LookupError("not enrolled")
        enrolment.recovery_email = self._encrypt(address, account) if address else ""
        await self._save(account, enrolment)

    def recovery_email(self, enrolment: Enrolment, account: str) -> str | None:
        if not enrolment.recovery_email:
            return None
        return self._decrypt(enrolment.recovery_email, account)

    def hash_email_code(self, code: str) -> str:
        return self._hash("email:" + code)

    async def verify(self, account: str, code: str) -> str:
        """Check a TOTP or recovery code; a success is consumed so it never works twice."""
        enrolment = await self.load(account)
        if enrolment is None:
            return Verdict.WRONG
        secret = self._decrypt(enrolment.secret, account)
        step = code_matches_step(secret, code) if secret else None
        if step is not None:
            if step <= enrolment.last_step:
                return Verdict.REPLAY
            enrolment.last_step = step
            await self._save(account, enrolment)
            return Verdict.OK
        hashed = self._hash(normalise_recovery(code))
        if any(hmac.compare_digest(hashed, stored) for stored in enrolment.recovery):
            enrolment.recovery = [h for h in enrolment.recovery if h != hashed]
            await self._save(account, enrolment)
            return Verdict.RECOVERY
        return Verdict.WRONG

    async def _save(self, account: str, enrolment: Enrolment) -> None:
        try:
            await self.redis.set(self._key(account), json.dumps(asdict(enrolment)))
        except (RedisError, OSError) as error:
            raise SessionStoreUnavailable(str(error)) from error

    def _key(self, account: str) -> str:
        return PREFIX + hashlib.sha256(account.lower().encode()).hexdigest()

    def _encrypt(self, secret: str, account: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), account.lower().encode())
        return base64.b64encode(nonce + sealed).decode()

    def _decrypt(self, token: str, account: str) -> str | None:
        try:
            data = base64.b64decode(token)
            return self._aead.decrypt(data[:12], data[12:], account.lower().encode()).decode()
        except (ValueError, InvalidTag):
            return None  # another secret key: the user must enrol again with an operator

    def _hash(self, code: str) -> str:
        return hmac.new(self._hash_key, code.encode(), hashlib.sha256).hexdigest()


def normalise_recovery(code: str) -> str:
    cleaned = "".join(char for char in code.upper() if char.isalnum())
    return f"{cleaned[:5]}-{cleaned[5:]}" if len(cleaned) == 10 else cleaned


def _recovery_code() -> str:
    chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def _derive(secret_key: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.encode()
    )
