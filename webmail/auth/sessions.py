"""Server-side sessions in Redis, holding JSON only.

The cookie carries ``<session id>.<key>``. Redis knows the session by a hash of the id and
keeps the IMAP password encrypted with the key, which only the browser has: a copy of Redis
alone reveals neither a usable cookie nor a password.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.asyncio import Redis
from redis.exceptions import RedisError

KEY_PREFIX = "mss:session:"
# A session that has passed the password but not the second factor lives five minutes from
# the password step, whatever it does meanwhile: polling cannot keep it alive.
PENDING_SECONDS = 300
TOUCH_SECONDS = 30
USER_INDEX_PREFIX = "mss:user-sessions:"
# The idle clock's reset writes the session back only if it is still as read: a request
# that changed it meanwhile (new Pro Santé Connect tokens) must not be undone by an older copy.
_TOUCH = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return false
"""


class SessionStoreUnavailable(Exception):
    """Redis cannot be reached."""


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    """Any Redis failure inside the block is SessionStoreUnavailable: one type for the views."""
    try:
        yield
    except (RedisError, OSError) as error:
        raise SessionStoreUnavailable(str(error)) from error


@dataclass
class Session:
    id_hash: str
    user: str
    csrf_token: str
    created: float
    last_seen: float
    encrypted_password: str
    client_ip: str = ""
    user_agent: str = ""
    # "password": only the first factor is done; such a session opens no mailbox and is
    # never promoted: the second factor creates a new session with a new id.
    stage: str = "full"
    # While enrolling a second factor: the new TOTP secret, encrypted with the cookie's key.
    pending_secret: str = ""
    # "password", or "psc" (Pro Santé Connect): then no password, but the provider's tokens
    # (webmail.auth.psc_tokens), encrypted with the cookie's key like the password.
    method: str = "password"
    encrypted_tokens: str = ""
    # Shown beside the address (Pro Santé Connect): the practitioner's name, and the French
    # name of the profession from the webmail's own table (translated where shown).
    display_name: str = ""
    profession: str = ""
    # The mailbox the session works in: "" the account's own, else an organisational one
    # shared with it (webmail.mail.mailboxes); every folder a request names must be in it.
    mailbox: str = ""

    @property
    def complete(self) -> bool:
        return self.stage == "full"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Session:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("session is not an object")
        fields = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in fields})


@dataclass(frozen=True)
class SessionCookie:
    session_id: str
    key: bytes

    @property
    def id_hash(self) -> str:
        return hashlib.sha256(self.session_id.encode()).hexdigest()

    def encode(self) -> str:
        return f"{self.session_id}.{base64.urlsafe_b64encode(self.key).decode().rstrip('=')}"

    @classmethod
    def decode(cls, value: str | None) -> SessionCookie | None:
        if not value or value.count(".") != 1 or len(value) > 200:
            return None
        session_id, encoded_key = value.split(".")
        try:
            key = base64.urlsafe_b64decode(encoded_key + "=" * (-len(encoded_key) % 4))
        except (ValueError, TypeError):
            return None
        if len(key) != 32 or len(session_id) < 32:
            return None
        return cls(session_id=session_id, key=key)

    @classmethod
    def new(cls) -> SessionCookie:
        return cls(session_id=secrets.token_urlsafe(32), key=AESGCM.generate_key(bit_length=256))


class SessionStore:
    def __init__(self, redis: Redis, idle_seconds: int, absolute_seconds: int) -> None:
        self.redis = redis
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds

    async def create(
        self,
        user: str,
        password: str,
        *,
        client_ip: str = "",
        user_agent: str = "",
        stage: str = "full",
    ) -> tuple[SessionCookie, Session]:
        cookie, session = self.prepare(
            user, password, client_ip=client_ip, user_agent=user_agent, stage=stage
        )
        await self.add(session)
        return cookie, session

    def prepare(
        self,
        user: str,
        password: str,
        *,
        client_ip: str = "",
        user_agent: str = "",
        stage: str = "full",
    ) -> tuple[SessionCookie, Session]:
        """A new session, not stored yet: fill it in, then ``add`` it in one write."""
        cookie = SessionCookie.new()
        now = time.time()
        session = Session(
            id_hash=cookie.id_hash,
            user=user,
            csrf_token=secrets.token_urlsafe(32),
            created=now,
            last_seen=now,
            encrypted_password=_encrypt(cookie.key, password, cookie.id_hash),
            client_ip=client_ip,
            user_agent=user_agent[:300],
            stage=stage,
        )
        return cookie, session

    async def add(self, session: Session) -> None:
        await self._save(session)
        if session.complete:
            with redis_errors():
                await self._index(session.user).sadd(session.id_hash)

    async def load(self, cookie: SessionCookie | None, *, touch: bool = True) -> Session | None:
        """The live session for this cookie, its idle clock reset (unless not ``touch``: a
        request the page makes by itself); None if gone or expired."""
        if cookie is None:
            return None
        with redis_errors():
            raw = await self.redis.get(KEY_PREFIX + cookie.id_hash)
        if raw is None:
            return None
        try:
            session = Session.from_json(raw)
        except (ValueError, TypeError):
            await self.delete(cookie)
            return None
        now = time.time()
        if now > self._ends_at(session) or now - session.last_seen > self.idle_seconds:
            await self.delete(cookie)
            return None
        if touch and now - session.last_seen > TOUCH_SECONDS:
            # The idle clock has a 30 s grain: most requests then cost one Redis round trip.
            session.last_seen = now
            with redis_errors():
                await self.redis.eval(
                    _TOUCH,
                    1,
                    KEY_PREFIX + session.id_hash,
                    raw,
                    session.to_json(),
                    self._ttl_ms(session),
                )
        return session

    def password(self, session: Session, cookie: SessionCookie) -> str | None:
        return _decrypt(cookie.key, session.encrypted_password, session.id_hash)

    def seal(self, session: Session, cookie: SessionCookie, text: str) -> str:
        """Encrypt something only this browser's cookie can open (e.g. an enrolment secret)."""
        return _encrypt(cookie.key, text, session.id_hash)

    def unseal(self, session: Session, cookie: SessionCookie, token: str) -> str | None:
        return _decrypt(cookie.key, token, session.id_hash) if token else None

    async def save(self, session: Session, *, must_exist: bool = False) -> None:
        """Write the session back; ``must_exist``: only if it is still there (a logout or
        "end this session" meanwhile must win over a late update)."""
        await self._save(session, must_exist=must_exist)

    async def delete(self, cookie: SessionCookie) -> None:
        await self.delete_by_hash(cookie.id_hash)

    async def delete_by_hash(self, id_hash: str, user: str | None = None) -> None:
        with redis_errors():
            await self.redis.delete(KEY_PREFIX + id_hash)
            if user is not None:
                await self._index(user).srem(id_hash)

    async def sessions_of(self, user: str) -> list[Session]:
        """The user's live complete sessions, newest first (expired ones leave the index)."""
        index = self._index(user)
        with redis_errors():
            found = []
            for id_hash in await index.members():
                raw = await self.redis.get(KEY_PREFIX + id_hash)
                if raw is None:
                    await index.srem(id_hash)
                    continue
                found.append(Session.from_json(raw))
        return sorted(found, key=lambda session: session.created, reverse=True)

    def _index(self, user: str) -> _SessionIndex:
        return _SessionIndex(self.redis, user, self.absolute_seconds)

    def _ends_at(self, session: Session) -> float:
        """The absolute end: 12 hours (say) after login, five minutes for a password-only one."""
        lifetime = self.absolute_seconds if session.complete else PENDING_SECONDS
        return session.created + min(lifetime, self.absolute_seconds)

    async def _save(self, session: Session, *, must_exist: bool = False) -> None:
        with redis_errors():
            await self.redis.set(
                KEY_PREFIX + session.id_hash,
                session.to_json(),
                px=self._ttl_ms(session),
                xx=must_exist,
            )

    def _ttl_ms(self, session: Session) -> int:
        """Whichever comes first: the idle lock or the absolute end, to the millisecond."""
        remaining_absolute = self._ends_at(session) - time.time()
        return max(1, int(min(self.idle_seconds, remaining_absolute) * 1000))


class _SessionIndex:
    """The set of one user's session hashes, for the sessions page and "end all others"."""

    def __init__(self, redis: Redis, user: str, ttl: int) -> None:
        self.redis = redis
        self.key = USER_INDEX_PREFIX + hashlib.sha256(user.lower().encode()).hexdigest()
        self.ttl = ttl

    async def sadd(self, id_hash: str) -> None:
        await self.redis.sadd(self.key, id_hash)
        await self.redis.expire(self.key, self.ttl)

    async def srem(self, id_hash: str) -> None:
        await self.redis.srem(self.key, id_hash)

    async def members(self) -> list[str]:
        members = await self.redis.smembers(self.key)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]


def _encrypt(key: bytes, text: str, context: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, text.encode(), context.encode())
    return base64.b64encode(nonce + sealed).decode()


def _decrypt(key: bytes, token: str, context: str) -> str | None:
    try:
        data = base64.b64decode(token)
        return AESGCM(key).decrypt(data[:12], data[12:], context.encode()).decode()
    except (ValueError, InvalidTag):
        return None
