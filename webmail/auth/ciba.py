"""Sign-in from the phone: Pro Santé Connect's backchannel flow (CIBA Core 1.0, poll mode).

The practitioner gives their national id on the consulting-room computer; the webmail asks
PSC's backchannel authentication endpoint to push a request to their e-CPS app, with a short
binding code that both screens show, then polls the token endpoint until the request is
approved, denied or expired. Nobody types a password on a shared computer.

The browser only ever sees the code: the request's ``auth_req_id`` stays in Redis under the
hash of the browser's pre-login id, so another browser cannot poll or finish it. The
provider is polled at the interval it asks for whatever the browsers do (one SET NX per
request and interval), and a success consumes the request (GETDEL): its tokens open one
session, once. Each start pushes a notification to someone's phone, so starts are counted
per network and per national id.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from webmail.auth.counters import count_one
from webmail.auth.oidc import PscClient, PscRefused, PscTooManyStarts, PscUnavailable, SignIn
from webmail.auth.sessions import redis_errors

CIBA_GRANT = "urn:openid:params:grant-type:ciba"
BACKCHANNEL_ENDPOINT = "backchannel_authentication_endpoint"
SCOPE = "openid scope_all"
ACR = "eidas1"
PENDING_PREFIX = "mss:psc:ciba:"
POLL_PREFIX = "mss:psc:ciba-poll:"
STARTS_PREFIX = "mss:psc:ciba-starts:"
# CIBA Core 1.0 section 7.3: without an interval from the provider, 5 seconds.
DEFAULT_INTERVAL = 5
MAX_INTERVAL = 60
# Section 11: after slow_down, the interval grows by 5 seconds for good.
SLOW_DOWN_SECONDS = 5
# Added to the interval between two polls, so that network jitter never brings two of them
# closer than the interval at the provider.
POLL_MARGIN_SECONDS = 0.25
# A request lives what the provider says, within these bounds (PSC: a few minutes).
MAX_EXPIRES_IN = 600
STARTS_WINDOW_SECONDS = 600
# Each start pushes a notification to a phone: enough for a practice behind one address at
# the change of shift, too few to spam every doctor of a directory.
STARTS_PER_NETWORK = 30
# A typo, a cancel, a phone left in a coat: five tries in ten minutes for one practitioner.
STARTS_PER_NATIONAL_ID = 5
# The binding message: letters and digits that cannot be read one for another.
CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
CODE_LENGTH = 4
# The claim oidc-provider (and CIBA's push mode) puts in the ID token: checked when present.
AUTH_REQ_ID_CLAIM = "urn:openid:params:jwt:claim:auth_req_id"
# How long the last look at the discovery document decides whether the button shows.
OFFER_MEMO_SECONDS = 3600

# The national id as PSC's SubjectNameID writes it: 8 + RPPS (11 digits), or 0 + ADELI
# (9 characters: a département, 2A/2B for Corsica, then 7 digits). A bare RPPS or ADELI
# number, as printed on the CPS card, gets its prefix.
_RPPS = re.compile(r"8?(\d{11})")
_ADELI = re.compile(r"0?((?:\d{2}|2[AB])\d{7})")
_SEPARATORS = re.compile(r"[\s.\-]")


class Outcome(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    # The provider refused the grant, or its answer failed a check: ``reason`` says which.
    REFUSED = "refused"
    # No request for this browser: never started, cancelled, or already used.
    UNKNOWN = "unknown"


class TooManyPhoneStarts(PscTooManyStarts):
    """Too many requests started from this network, or for this national id (``per``)."""

    def __init__(self, per: str) -> None:
        super().__init__(per)
        self.per = per


@dataclass(frozen=True)
class CibaConfig:
    # MSS_PSC_CIBA: the deployment allows it; it is offered only when PSC advertises it.
    enabled: bool = True


@dataclass(frozen=True)
class Waiting:
    """What the waiting page shows: the code, how often to look, until when."""

    code: str
    interval: int
    expires_at: float


@dataclass(frozen=True)
class Poll:
    outcome: Outcome
    national_id: str = ""
    waiting: Waiting | None = None
    signed_in: SignIn | None = None
    reason: str = ""


@dataclass(frozen=True)
class _Pending:
    auth_req_id: str
    national_id: str
    code: str
    interval: int
    expires_at: float

    @property
    def waiting(self) -> Waiting:
        return Waiting(self.code, self.interval, self.expires_at)


def national_id(typed: str) -> str | None:
    """The national id PSC knows the practitioner by, from what they typed; None when it
    is neither an RPPS nor an ADELI number."""
    text = _SEPARATORS.sub("", typed.strip().upper())[:20]
    if not text.isascii():
        return None
    if rpps := _RPPS.fullmatch(text):
        return "8" + rpps.group(1)
    if adeli := _ADELI.fullmatch(text):
        return "0" + adeli.group(1)
    return None


def binding_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class PhoneSignIn:
    def __init__(self, psc: PscClient, redis: Redis, config: CibaConfig) -> None:
        self.psc = psc
        self.config = config
        self._redis = redis
        self._advertised: bool | None = None
        self._advertised_until = 0.0

    @property
    def offered(self) -> bool:
        """Whether the login page offers it: allowed, and advertised as far as is known
        (an unknown provider is given the benefit of the doubt; the page then checks)."""
        if not self.config.enabled:
            return False
        return self._advertised is not False or time.monotonic() > self._advertised_until

    async def available(self) -> bool:
        """Allowed here and advertised by the provider's discovery document: its
        backchannel endpoint over https and the CIBA grant. PscUnavailable when the
        provider cannot be reached."""
        if not self.config.enabled:
            return False
        metadata = await self.psc.metadata()
        endpoint = str(metadata.get(BACKCHANNEL_ENDPOINT, ""))
        grants = metadata.get("grant_types_supported")
        modes = metadata.get("backchannel_token_delivery_modes_supported")
        advertised = (
            endpoint.startswith("https://")
            and isinstance(grants, list)
            and CIBA_GRANT in grants
            and (not isinstance(modes, list) or "poll" in modes)
        )
        self._advertised = advertised
        self._advertised_until = time.monotonic() + OFFER_MEMO_SECONDS
        return advertised

    async def start(self, binding: str, typed_id: str, network: str) -> Waiting:
        """Push a sign-in request to the phone of the practitioner ``typed_id`` names, for
        the browser known by ``binding`` (its pre-login id), from ``network``.

        PscRefused: ``national_id_invalid``, or the provider's error (``unknown_user_id``...);
        TooManyPhoneStarts; PscUnavailable (the provider), SessionStoreUnavailable (Redis)."""
        found = national_id(typed_id)
        if found is None:
            raise PscRefused("national_id_invalid")
        await self._count_start(network, found)
        code = binding_code()
        form = {
            "scope": SCOPE,
            "acr_values": ACR,
            "login_hint": found,
            "binding_message": code,
        }
        try:
            answer = await self.psc._token_request(form, endpoint=BACKCHANNEL_ENDPOINT)
        except PscRefused as refused:
            raise PscRefused(refused.reason.removeprefix("token_")) from None
        pending = _pending_of(answer, found, code)
        with redis_errors():
            async with self._redis.pipeline(transaction=True) as pipe:
                ttl = int(pending.expires_at - time.time()) + 5
                pipe.set(_key(PENDING_PREFIX, binding), json.dumps(asdict(pending)), ex=ttl)
                pipe.delete(_key(POLL_PREFIX, binding))
                await pipe.execute()
        return pending.waiting

    async def poll(self, binding: str) -> Poll:
        """Where the browser's request stands, asking the provider at most once per
        interval; an approved request is consumed here and its tokens checked."""
        pending = await self._pending(binding)
        if pending is None:
            return Poll(Outcome.UNKNOWN)
        nid = pending.national_id
        if time.time() >= pending.expires_at:
            await self.cancel(binding)
            return Poll(Outcome.EXPIRED, nid, reason="expired")
        began = time.monotonic()
        if not await self._may_poll(binding, pending.interval):
            return Poll(Outcome.PENDING, nid, waiting=pending.waiting)
        try:
            answer = await self.psc._token_request(
                {"grant_type": CIBA_GRANT, "auth_req_id": pending.auth_req_id}
            )
        except PscRefused as refused:
            poll = await self._not_yet(binding, pending, refused.reason.removeprefix("token_"))
            if refused.reason == "token_authorization_pending":
                await self._pace(binding, pending.interval, began)
            return poll
        except PscUnavailable:
            await self._pace(binding, pending.interval, began)
            raise
        if not await self._consume(binding, pending):
            # Cancelled while the provider answered: those tokens open nothing.
            return Poll(Outcome.UNKNOWN, nid)
        try:
            signed_in = await self._checked(answer, pending)
        except PscRefused as refused:
            return Poll(Outcome.REFUSED, nid, reason=refused.reason)
        return Poll(Outcome.APPROVED, nid, signed_in=signed_in)

    async def waiting(self, binding: str) -> Waiting | None:
        """The browser's request, without asking the provider."""
        pending = await self._pending(binding)
        return pending.waiting if pending is not None else None

    async def cancel(self, binding: str) -> None:
        """Forget the browser's request (CIBA has no way to withdraw it at the provider:
        it expires there, and its approval then opens nothing)."""
        with redis_errors():
            await self._redis.delete(_key(PENDING_PREFIX, binding), _key(POLL_PREFIX, binding))

    async def _not_yet(self, binding: str, pending: _Pending, error: str) -> Poll:
        """The provider's refusal to give tokens, as an outcome (CIBA Core 1.0 11)."""
        nid = pending.national_id
        if error == "authorization_pending":
            return Poll(Outcome.PENDING, nid, waiting=pending.waiting)
        if error == "slow_down":
            return Poll(Outcome.PENDING, nid, waiting=await self._slow_down(binding, pending))
        await self.cancel(binding)
        if error == "access_denied":
            return Poll(Outcome.DENIED, nid, reason=error)
        # A provider that forgets an expired request answers invalid_grant rather than
        # expired_token: the deadline it gave tells them apart.
        late = time.time() >= pending.expires_at - pending.interval
        if error == "expired_token" or (error == "invalid_grant" and late):
            return Poll(Outcome.EXPIRED, nid, reason=error)
        return Poll(Outcome.REFUSED, nid, reason=f"token_{error}")

    async def _slow_down(self, binding: str, pending: _Pending) -> Waiting:
        interval = min(pending.interval + SLOW_DOWN_SECONDS, MAX_INTERVAL)
        slower = _Pending(**{**asdict(pending), "interval": interval})
        with redis_errors():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(
                    _key(PENDING_PREFIX, binding), json.dumps(asdict(slower)), xx=True, keepttl=True
                )
                pipe.set(_key(POLL_PREFIX, binding), "1", px=_poll_gap_ms(interval))
                await pipe.execute()
        return slower.waiting

    async def _checked(self, answer: dict[str, Any], pending: _Pending) -> SignIn:
        """The identity of an approved request, checked like the code flow's: signature,
        issuer, audience, expiry and acr of the ID token. CIBA has no nonce: in poll mode
        the answer is bound to the request by coming back to our own client-authenticated
        poll for its auth_req_id (CIBA Core 1.0 10.1); the auth_req_id claim that the push
        mode requires is checked when the provider adds it. The practitioner must be the
        one whose national id was asked for."""
        claims = await self.psc.check_id_token(str(answer.get("id_token", "")), nonce="")
        bound = claims.get(AUTH_REQ_ID_CLAIM)
        if bound is not None and not secrets.compare_digest(str(bound), pending.auth_req_id):
            raise PscRefused("id_token_auth_req_id")
        signed_in = await self.psc.signed_in(answer, claims)
        if signed_in.identity.national_id != pending.national_id:
            raise PscRefused("national_id_mismatch")
        return signed_in

    async def _count_start(self, network: str, nid: str) -> None:
        for per, key, limit in (
            ("network", STARTS_PREFIX + "net:" + _digest(network), STARTS_PER_NETWORK),
            ("national_id", STARTS_PREFIX + "id:" + _digest(nid), STARTS_PER_NATIONAL_ID),
        ):
            with redis_errors():
                starts = await count_one(self._redis, key, STARTS_WINDOW_SECONDS)
            if starts > limit:
                raise TooManyPhoneStarts(per)

    async def _pending(self, binding: str) -> _Pending | None:
        if not binding or len(binding) > 200:
            return None
        with redis_errors():
            raw = await self._redis.get(_key(PENDING_PREFIX, binding))
        return _Pending(**json.loads(raw)) if raw is not None else None

    async def _may_poll(self, binding: str, interval: int) -> bool:
        """One poll of the provider per request and interval, whatever the browsers do.

        The mark lasts the whole call too: a provider slower than the interval must not see
        a second poll of a request it is approving, which it would take for a replay (and
        revoke the grant)."""
        hold = _poll_gap_ms(interval) + int(self.psc.config.timeout * 1000)
        with redis_errors():
            claimed = await self._redis.set(_key(POLL_PREFIX, binding), "1", nx=True, px=hold)
        return bool(claimed)

    async def _pace(self, binding: str, interval: int, began: float) -> None:
        """After the provider's answer: the next poll one interval after this one began."""
        left = _poll_gap_ms(interval) - int((time.monotonic() - began) * 1000)
        with redis_errors():
            if left > 0:
                await self._redis.pexpire(_key(POLL_PREFIX, binding), left)
            else:
                await self._redis.delete(_key(POLL_PREFIX, binding))

    async def _consume(self, binding: str, pending: _Pending) -> bool:
        with redis_errors():
            raw = await self._redis.getdel(_key(PENDING_PREFIX, binding))
        if raw is None:
            return False
        return secrets.compare_digest(str(json.loads(raw)["auth_req_id"]), pending.auth_req_id)


def _pending_of(answer: dict[str, Any], nid: str, code: str) -> _Pending:
    """The backchannel endpoint's answer (CIBA Core 1.0 7.3), checked."""
    auth_req_id = answer.get("auth_req_id")
    expires_in = answer.get("expires_in")
    interval = answer.get("interval", DEFAULT_INTERVAL)
    if not isinstance(auth_req_id, str) or not 0 < len(auth_req_id) <= 2048:
        raise PscUnavailable("the backchannel answer has no auth_req_id")
    if not isinstance(expires_in, int) or expires_in <= 0:
        raise PscUnavailable("the backchannel answer has no expires_in")
    if not isinstance(interval, int) or interval <= 0:
        interval = DEFAULT_INTERVAL
    return _Pending(
        auth_req_id=auth_req_id,
        national_id=nid,
        code=code,
        interval=min(interval, MAX_INTERVAL),
        expires_at=time.time() + min(expires_in, MAX_EXPIRES_IN),
    )


def _poll_gap_ms(interval: int) -> int:
    return int((interval + POLL_MARGIN_SECONDS) * 1000)


def _key(prefix: str, binding: str) -> str:
    return prefix + _digest(binding)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
