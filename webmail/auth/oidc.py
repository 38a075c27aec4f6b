"""Pro Santé Connect sign-in: OpenID Connect authorization code flow with PKCE.

The browser carries only an opaque pre-login id (its cookie) and, through the provider,
``state``. The ``nonce`` and PKCE verifier stay in Redis under the state's hash, bound to
that pre-login id, and are consumed by one GETDEL: a state works once, for the browser that
started it. The ID token is checked in full (signature against the provider's JWKS, issuer,
audience, expiry, nonce, ``acr == eidas1``) before anything about the user is believed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from redis.asyncio import Redis
from redis.exceptions import RedisError

from webmail.auth.oidc_http import ProviderHttp, ProviderUnreachable

SCOPE = "openid scope_all"
ACR = "eidas1"
STATE_PREFIX = "mss:psc:state:"
STARTS_PREFIX = "mss:psc:starts:"
# Time to sign in at the provider (e-CPS on the phone included) before the state is forgotten.
STATE_SECONDS = 600
# Sign-ins one network may start in STATE_SECONDS: each keeps a state in Redis for that long,
# so a script asking without end would fill it. One a second on average: a hospital's
# doctors behind one address at the change of shift stay well below.
STARTS_PER_NETWORK = 600
METADATA_SECONDS = 3600
# Clock differences between the provider and this host.
LEEWAY_SECONDS = 30
ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256"]


class PscRefused(Exception):
    """The sign-in cannot be accepted; ``reason`` is a short code for the audit trail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PscUnavailable(Exception):
    """The provider or Redis cannot be reached: nothing is wrong with the user's sign-in."""


class PscTooManyStarts(Exception):
    """This network started more sign-ins than anyone would: none is remembered for now."""


@dataclass(frozen=True)
class PscConfig:
    issuer: str
    discovery_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    # The claim holding the mailbox address to open (an operator's choice).
    mailbox_claim: str = "email"
    ca_bundle: Path | None = None
    timeout: float = 10.0

    @property
    def post_logout_redirect_uri(self) -> str:
        """Where the provider sends the browser after its logout: this webmail's login page
        (register it with the provider too)."""
        parts = urlsplit(self.redirect_uri)
        return f"{parts.scheme}://{parts.netloc}/login?notice=logout"


@dataclass(frozen=True)
class Identity:
    subject: str
    # SubjectNameID: the national id (8 + RPPS, or ADELI): for the audit trail.
    national_id: str
    given_name: str
    family_name: str
    profession_code: str
    mailbox: str


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    id_token: str
    expires_at: float


@dataclass(frozen=True)
class SignIn:
    identity: Identity
    tokens: Tokens


class PscClient:
    def __init__(self, config: PscConfig, redis: Redis) -> None:
        self.config = config
        self._redis = redis
        self._http = ProviderHttp(config.ca_bundle, config.timeout)
        self._metadata: dict[str, Any] | None = None
        self._metadata_until = 0.0
        self._keys: KeySet | None = None

    async def begin(self, binding: str, network: str) -> str:
        """The provider's authorization URL for a browser known by ``binding`` (its
        pre-login id), after remembering state, nonce and verifier for it; ``network``: the
        client's network (see ``networks.client_network``), whose starts are counted."""
        metadata = await self.metadata()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        pending = {"binding": _digest(binding), "nonce": nonce, "verifier": verifier}
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(STARTS_PREFIX + _digest(network))
                pipe.expire(STARTS_PREFIX + _digest(network), STATE_SECONDS, nx=True)
                starts, _ = await pipe.execute()
            if starts > STARTS_PER_NETWORK:
                raise PscTooManyStarts(network)
            await self._redis.set(_state_key(state), json.dumps(pending), ex=STATE_SECONDS)
        except (RedisError, OSError) as error:
            raise PscUnavailable(str(error)) from error
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": SCOPE,
            "acr_values": ACR,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        return f"{metadata['authorization_endpoint']}?{urlencode(query)}"

    async def finish(self, binding: str, state: str, code: str) -> SignIn:
        """The provider's answer at the redirect URI: tokens and the checked identity."""
        pending = await self._consume(state)
        if not secrets.compare_digest(pending["binding"], _digest(binding)):
            raise PscRefused("state_other_browser")
        if not code or len(code) > 2048:
            raise PscRefused("code_missing")
        answer = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.config.redirect_uri,
                "code_verifier": pending["verifier"],
            }
        )
        claims = await self.check_id_token(str(answer.get("id_token", "")), pending["nonce"])
        return await self.signed_in(answer, claims)

    async def signed_in(self, answer: dict[str, Any], claims: dict[str, Any]) -> SignIn:
        """The tokens of a token endpoint's answer and the identity of its ID token, whose
        ``claims`` the caller has checked."""
        tokens = _tokens(answer, previous_id_token="")
        # PSC puts the practitioner's claims in userinfo, not in the ID token.
        profile = {**claims, **await self.userinfo(tokens.access_token, str(claims["sub"]))}
        return SignIn(identity=_identity(profile, self.config.mailbox_claim), tokens=tokens)

    async def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """The userinfo claims, as JSON or as a signed JWT (application/jwt), which must be
        the provider's, for this client, and about the ID token's subject."""
        metadata = await self.metadata()
        endpoint = str(metadata.get("userinfo_endpoint", ""))
        if not endpoint:
            return {}
        try:
            answer = await self._http.get(endpoint, bearer=access_token)
        except ProviderUnreachable as error:
            raise PscUnavailable(str(error)) from error
        if answer.status != 200:
            raise PscRefused(f"userinfo_{answer.status}")
        if answer.content_type == "application/jwt":
            claims = await self._verified_claims(answer.body.decode("ascii", "replace"), "userinfo")
            for claim, expected in (("iss", self.config.issuer), ("aud", self.config.client_id)):
                found = claims.get(claim)
                if found != expected and not (isinstance(found, list) and expected in found):
                    raise PscRefused(f"userinfo_{claim}")
        else:
            try:
                claims = answer.json()
            except ProviderUnreachable:
                raise PscRefused("userinfo_unreadable") from None
        if claims.get("sub") != subject:
            raise PscRefused("userinfo_sub")
        return claims

    async def refresh(self, refresh_token: str, id_token: str) -> Tokens:
        """New tokens; PscRefused when the refresh token is no longer valid."""
        answer = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        tokens = _tokens(answer, previous_id_token=id_token)
        return tokens if tokens.refresh_token else _keep_refresh(tokens, refresh_token)

    async def end_session_url(self, id_token: str) -> str | None:
        """The provider's logout for this browser (RP-initiated logout), which ends the
        PSC session and its grants too; None when the provider has no end-session endpoint."""
        endpoint = str((await self.metadata()).get("end_session_endpoint", ""))
        if not endpoint.startswith("https://") or not id_token:
            return None
        query = {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": self.config.post_logout_redirect_uri,
            "client_id": self.config.client_id,
            # Required by the specification's flow, unused on return: the login page
            # shows the same notice whatever comes back.
            "state": secrets.token_urlsafe(16),
        }
        return f"{endpoint}?{urlencode(query)}"

    async def check_id_token(self, token: str, nonce: str) -> dict[str, Any]:
        if not token or len(token) > 16384:
            raise PscRefused("id_token_missing")
        claims = await self._verified_claims(token)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise PscRefused("id_token_expired") from None
        except JoseError as error:
            raise PscRefused(f"id_token_{_claim_name(error)}") from None
        # Several audiences are allowed only when azp names this client (OpenID Core 3.1.3.7).
        if isinstance(claims.get("aud"), list) and claims.get("azp") != self.config.client_id:
            raise PscRefused("id_token_aud")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise PscRefused("id_token_nonce")
        if claims.get("acr") != ACR:
            raise PscRefused("id_token_acr")
        return claims

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() > self._metadata_until:
            document = await self._get_json(self.config.discovery_url)
            if document.get("issuer") != self.config.issuer:
                raise PscUnavailable("the discovery document names another issuer")
            for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not str(document.get(endpoint, "")).startswith("https://"):
                    raise PscUnavailable(f"the discovery document has no https {endpoint}")
            self._metadata, self._metadata_until = document, time.monotonic() + METADATA_SECONDS
            self._keys = None
        return self._metadata

    async def _verified_claims(self, token: str, what: str = "id_token") -> dict[str, Any]:
        """The claims of a JWT signed by the provider; ``what`` names it in the refusal."""
        for fresh in (False, True):
            # A key id never seen may be a rotation at the provider: fetch the JWKS again once.
            # Any other fault (a bad signature, a forged token) costs the provider nothing.
            keys = await self._key_set(fresh)
            try:
                return dict(jwt.decode(token, keys, algorithms=ID_TOKEN_ALGORITHMS).claims)
            except InvalidKeyIdError:
                if fresh:
                    raise PscRefused(f"{what}_signature") from None
            except JoseError:
                raise PscRefused(f"{what}_signature") from None
        raise AssertionError("unreachable")

    async def _key_set(self, fresh: bool) -> KeySet:
        if self._keys is None or fresh:
            metadata = await self.metadata()
            try:
                self._keys = KeySet.import_key_set(await self._get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
            except (JoseError, KeyError, TypeError, ValueError) as error:
                raise PscUnavailable(f"unusable JWKS: {error}") from error
        return self._keys

    async def _consume(self, state: str) -> dict[str, str]:
        if not state or len(state) > 200:
            raise PscRefused("state_missing")
        try:
            raw = await self._redis.getdel(_state_key(state))
        except (RedisError, OSError) as error:
            raise PscUnavailable(str(error)) from error
        if raw is None:
            # Never issued, already used, or older than STATE_SECONDS.
            raise PscRefused("state_unknown")
        pending = json.loads(raw)
        assert isinstance(pending, dict)
        return {key: str(value) for key, value in pending.items()}

    async def _token_request(
        self, form: dict[str, str], endpoint: str = "token_endpoint"
    ) -> dict[str, Any]:
        """A client-authenticated POST to the token endpoint, or to another ``endpoint`` of
        the discovery document (CIBA's backchannel_authentication_endpoint)."""
        metadata = await self.metadata()
        client = (self.config.client_id, self.config.client_secret)
        try:
            answer = await self._http.post_form(metadata[endpoint], form, client)
            if 400 <= answer.status < 500:
                error = str(answer.json().get("error", "refused"))[:40]
                raise PscRefused(f"token_{error}")
            if answer.status != 200:
                raise PscUnavailable(f"token endpoint answered {answer.status}")
            return answer.json()
        except ProviderUnreachable as error:
            raise PscUnavailable(str(error)) from error

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = await self._http.get(url)
            if answer.status != 200:
                raise PscUnavailable(f"{url} answered {answer.status}")
            return answer.json()
        except ProviderUnreachable as error:
            raise PscUnavailable(str(error)) from error


def _tokens(answer: dict[str, Any], previous_id_token: str) -> Tokens:
    access = answer.get("access_token")
    bearer = str(answer.get("token_type", "")).lower() == "bearer"
    if not isinstance(access, str) or not access or not bearer:
        raise PscRefused("token_missing")
    lifetime = answer.get("expires_in")
    expires_in = lifetime if isinstance(lifetime, int) and 0 < lifetime <= 86400 else 60
    return Tokens(
        access_token=access,
        refresh_token=str(answer.get("refresh_token") or ""),
        id_token=str(answer.get("id_token") or previous_id_token),
        expires_at=time.time() + expires_in,
    )


def _keep_refresh(tokens: Tokens, refresh_token: str) -> Tokens:
    """A provider that does not rotate refresh tokens answers without one: keep ours."""
    return replace(tokens, refresh_token=refresh_token)


def _identity(claims: dict[str, Any], mailbox_claim: str) -> Identity:
    mailbox = claims.get(mailbox_claim)
    if not isinstance(mailbox, str) or "@" not in mailbox or len(mailbox) > 320:
        raise PscRefused("mailbox_claim_missing")
    return Identity(
        subject=str(claims["sub"]),
        national_id=_text(claims.get("SubjectNameID")),
        given_name=_text(claims.get("given_name")),
        family_name=_text(claims.get("family_name")),
        profession_code=_profession_code(claims.get("SubjectRefPro")),
        mailbox=mailbox.strip().lower(),
    )


def _profession_code(reference: object) -> str:
    """The first practice's profession code in SubjectRefPro (``exercices[]``)."""
    if isinstance(reference, dict):
        practices = reference.get("exercices")
        if isinstance(practices, list) and practices and isinstance(practices[0], dict):
            return _text(practices[0].get("codeProfession"))
    return ""


def _text(value: object, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _claim_name(error: JoseError) -> str:
    """iss, aud, exp... from joserfc's claim errors ("invalid_claim: Invalid claim: 'aud'")."""
    claim = getattr(error, "claim", "")
    return claim if isinstance(claim, str) and claim.isalpha() else "claims"


def _state_key(state: str) -> str:
    return STATE_PREFIX + _digest(state)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
