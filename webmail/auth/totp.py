"""The second factor: TOTP (RFC 6238, 6 digits, 30 s) and single-use recovery codes.

Secrets are stored in Redis encrypted with a key derived from the deployment's secret key;
recovery codes only as keyed hashes. Losing or copying Redis lets nobody in without a factor.

What a success consumes lives in keys of its own, changed by one atomic command each, so
that of many requests carrying the same code at the same instant exactly one wins: the
newest accepted time step (advanced by a script that compares and sets it) and the set of
unused recovery-code hashes (a code is used by whoever removes it from the set).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis

from webmail.auth.email_code import EmailCodes
from webmail.auth.sessions import redis_errors

PREFIX = "mss:totp:"
ISSUER = "MSSanté"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone


# KEYS[1]: the newest accepted step; ARGV[1]: the step of the code typed, ARGV[2]: the step
# recorded before it had a key of its own (enrolments of earlier versions).
_CLAIM_STEP = """
local last = tonumber(redis.call('GET', KEYS[1]) or ARGV[2])
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
# KEYS[1]: the set of unused recovery hashes, KEYS[2]: set once they live there;
# ARGV: the hashes an earlier version kept in the enrolment record.
_MIGRATE_RECOVERY = """
if redis.call('SET', KEYS[2], '1', 'NX') then
  for i = 1, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end
end
return 0
"""
# KEYS: the record, the step, the recovery set, the migration mark; ARGV: the record, the
# step just used, 1 to replace an enrolment (0: a first one, refused if another won the race),
# then the recovery hashes.
_ENROL = """
if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
for i = 4, #ARGV do redis.call('SADD', KEYS[3], ARGV[i]) end
redis.call('SET', KEYS[4], '1')
return 1
"""
_SIX_DIGITS = re.compile(r"[0-9]{6}")  # ASCII only: "１２３４５６" or "²" are not digits here


class Verdict:
    OK = "ok"
    RECOVERY = "recovery"
    REPLAY = "replay"
    WRONG = "wrong"


@dataclass
class Enrolment:
    """What Redis keeps for one account, encrypted secret included."""

    secret: str  # encrypted, base64
    last_step: int = 0  # read only when the step has no key of its own yet: see _CLAIM_STEP
    recovery: list[str] = field(default_factory=list)  # keyed hashes of unused codes (as loaded)
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
        omitsize=True,  # a viewBox instead: the page sizes the code without cropping it
    )
    return buffer.getvalue().decode()


def code_matches_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step that ``code`` belongs to, within ±1 step of now; None if none."""
    digits = six_digits(code)
    if digits is None:
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    found = None
    for candidate in (step - 1, step, step + 1):
        # compare_digest over every candidate: no early exit that would time the answer
        if hmac.compare_digest(totp.at(candidate * totp.interval), digits):
            found = candidate
    return found


class SecondFactorStore:
    def __init__(self, redis: Redis, secret_key: str) -> None:
        self.redis = redis
        self._aead = AESGCM(_derive(secret_key, b"mss-webmail totp secrets"))
        self._hash_key = _derive(secret_key, b"mss-webmail recovery codes")
        self._claim_step = redis.register_script(_CLAIM_STEP)
        self._migrate_recovery = redis.register_script(_MIGRATE_RECOVERY)
        self._enrol = redis.register_script(_ENROL)
        self.email_codes = EmailCodes(redis, _derive(secret_key, b"mss-webmail email codes"))

    async def load(self, account: str) -> Enrolment | None:
        """The account's enrolment, with its unused recovery-code hashes; None if none."""
        with redis_errors():
            raw = await self.redis.get(self._key(account))
            if raw is None:
                return None
            enrolment = _parse(raw)
            if enrolment.recovery:
                # A record of an earlier version: its codes move to their own set, once.
                await self._migrate_recovery(
                    keys=[self._recovery_key(account), self._key(account) + ":migrated"],
                    args=enrolment.recovery,
                )
            members = await self.redis.smembers(self._recovery_key(account))
        enrolment.recovery = sorted(_text(member) for member in members)
        return enrolment

    async def enrol(
        self, account: str, secret: str, confirmed_step: int, *, replace: bool
    ) -> list[str] | None:
        """Store a secret the user proved to hold (a code of ``confirmed_step``, which cannot
        be replayed) and fresh recovery codes; returns the codes, to be shown once.

        A first enrolment (``replace=False``) happens once: if another session enrolled the
        account meanwhile, nothing is stored and the answer is None."""
        codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
        enrolment = Enrolment(secret=self._encrypt(secret, account), enrolled_at=time.time())
        with redis_errors():
            stored = await self._enrol(
                keys=[
                    self._key(account),
                    self._step_key(account),
                    self._recovery_key(account),
                    self._key(account) + ":migrated",
                ],
                args=[
                    _record(enrolment),
                    confirmed_step,
                    "1" if replace else "0",
                    *(self._hash(code) for code in codes),
                ],
            )
        return codes if stored else None

    def holds(self, enrolment: Enrolment, account: str, secret: str) -> bool:
        """Whether ``enrolment`` is sealed around ``secret`` (a form submitted twice)."""
        stored = self._decrypt(enrolment.secret, account)
        return stored is not None and hmac.compare_digest(stored, secret)

    async def regenerate_recovery(self, account: str) -> list[str]:
        if await self.load(account) is None:
            raise LookupError("not enrolled")
        codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                self._replace_recovery(pipe, account, codes)
                await pipe.execute()
        return codes

    async def set_recovery_email(self, account: str, address: str) -> None:
        if await self.load(account) is None:  # also moves codes of an earlier form aside
            raise LookupError("not enrolled")
        key = self._key(account)
        sealed = self._encrypt(address, account) if address else ""

        async def update(pipe: Any) -> None:
            # Read and write under WATCH: a re-enrolment landing in between makes this
            # transaction start over instead of writing the old secret back.
            raw = await pipe.get(key)
            if raw is None:
                raise LookupError("not enrolled")
            enrolment = _parse(raw)
            enrolment.recovery_email = sealed
            pipe.multi()
            pipe.set(key, _record(enrolment))

        with redis_errors():
            await self.redis.transaction(update, key)

    async def forget(self, account: str) -> bool:
        """The operator's reset: the account has no second factor any more."""
        base = self._key(account)
        with redis_errors():
            removed = await self.redis.delete(base, base + ":step", base + ":migrated")
            removed += await self.redis.delete(self._recovery_key(account))
        return bool(removed)

    def readable(self, enrolment: Enrolment, account: str) -> bool:
        """False when the secret was sealed under another MSS_SECRET_KEY."""
        return self._decrypt(enrolment.secret, account) is not None

    def recovery_email(self, enrolment: Enrolment, account: str) -> str | None:
        if not enrolment.recovery_email:
            return None
        return self._decrypt(enrolment.recovery_email, account)

    async def verify(self, account: str, code: str, enrolment: Enrolment | None = None) -> str:
        """Check a TOTP or recovery code; a success is consumed so it never works twice, even
        by a request racing this one. ``enrolment``: the account's, when already loaded (what
        a success consumes is claimed in Redis itself, never from this copy)."""
        enrolment = enrolment or await self.load(account)
        if enrolment is None:
            return Verdict.WRONG
        if six_digits(code) is not None:
            secret = self._decrypt(enrolment.secret, account)
            step = code_matches_step(secret, code) if secret else None
            if step is None:
                return Verdict.WRONG
            return Verdict.OK if await self._advance(account, step, enrolment) else Verdict.REPLAY
        recovery = normalise_recovery(code)
        if recovery is None:
            return Verdict.WRONG
        with redis_errors():
            removed = await self.redis.srem(self._recovery_key(account), self._hash(recovery))
        return Verdict.RECOVERY if removed else Verdict.WRONG

    async def _advance(self, account: str, step: int, enrolment: Enrolment) -> bool:
        """Make ``step`` the newest accepted one, if it is newer: True for one caller only."""
        with redis_errors():
            claimed = await self._claim_step(
                keys=[self._step_key(account)], args=[step, enrolment.last_step]
            )
        return bool(claimed)

    def _replace_recovery(self, pipe: Any, account: str, codes: list[str]) -> None:
        pipe.delete(self._recovery_key(account))
        pipe.sadd(self._recovery_key(account), *(self._hash(code) for code in codes))
        pipe.set(self._key(account) + ":migrated", "1")

    def _key(self, account: str) -> str:
        return PREFIX + hashlib.sha256(account.lower().encode()).hexdigest()

    def _step_key(self, account: str) -> str:
        return self._key(account) + ":step"

    def _recovery_key(self, account: str) -> str:
        return self._key(account) + ":recovery"

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


def _parse(raw: bytes | str) -> Enrolment:
    data = json.loads(raw)
    return Enrolment(**{k: v for k, v in data.items() if k in Enrolment.__dataclass_fields__})


def _record(enrolment: Enrolment) -> str:
    """The enrolment record as stored: what a success consumes lives in keys of its own."""
    data = asdict(enrolment)
    data.pop("recovery")  # moved to their own set by load() before any save
    return json.dumps(data)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def six_digits(code: str) -> str | None:
    """The code as six ASCII digits (spaces allowed between them), or None."""
    compact = "".join(code.split())
    return compact if _SIX_DIGITS.fullmatch(compact) else None


def normalise_recovery(code: str) -> str | None:
    """A recovery code as printed (``ABCDE-FGHJK``), however typed; None if it cannot be one."""
    cleaned = "".join(char for char in code.upper() if char.isascii() and char.isalnum())
    if len(cleaned) != 10:
        return None
    return f"{cleaned[:5]}-{cleaned[5:]}"


def _recovery_code() -> str:
    chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def _derive(secret_key: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.encode()
    )
