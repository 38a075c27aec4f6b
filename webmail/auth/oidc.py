"""Pro Santé Connect sign-in: OpenID Connect authorization code flow with PKCE.

The browser carries only an opaque pre-login id (its cookie) and, through the provider,
``state``. The ``nonce`` and PKCE verifier stay in Redis under the state's hash, bound to
that pre-login id (webmail.auth.oidc_states): a state works once, for the browser that
started it. The ID token is checked in full (signature against the provider's JWKS, issuer,
audience, expiry, nonce, ``acr == eidas1``) before anything about the user is believed.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from redis.asyncio import Redis

from webmail.auth.oidc_claims import Identity, Tokens, identity_from, keep_refresh, tokens_from
from webmail.auth.oidc_errors import (
    PscClientRefused,
    PscRefused,
    PscTooManyStarts,
    PscUnavailable,
)
from webmail.auth.oidc_http import (
    Answer,
    ClientCertificate,
    ProviderHttp,
    ProviderUnreachable,
    is_https_url,
)
from webmail.auth.oidc_states import PscStates, digest

__all__ = [
    "Identity",
    "PscClient",
    "PscClientRefused",
    "PscConfig",
    "PscRefused",
    "PscTooManyStarts",
    "PscUnavailable",
    "SignIn",
    "Tokens",
]

SCOPE = "openid scope_all"
ACR = "eidas1"
# Where the provider sends the browser back after its logout (register it there).
LOGOUT_RETURN_PATH = "/login/psc/logout"
METADATA_SECONDS = 3600
# Clock differences between the provider and this host.
LEEWAY_SECONDS = 30
ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256"]
# How this webmail proves who it is at the token endpoint: its secret (HTTP Basic), or a
# client certificate (RFC 8705 tls_client_auth, required inside the PSC trust space).
SECRET_BASIC = "client_secret_basic"  # noqa: S105 (a method name, not a secret)
TLS_CLIENT_AUTH = "tls_client_auth"
CLIENT_AUTH_METHODS = (SECRET_BASIC, TLS_CLIENT_AUTH)


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
    client_auth: str = SECRET_BASIC
    # With TLS_CLIENT_AUTH: the certificate the provider registered for this client.
    client_certificate: ClientCertificate | None = None

    def __post_init__(self) -> None:
        if self.client_auth not in CLIENT_AUTH_METHODS:
            raise ValueError(f"unknown client authentication {self.client_auth!r}")
        if self.mutual_tls and self.client_certificate is None:
            raise ValueError("tls_client_auth needs a client certificate")

    @property
    def mutual_tls(self) -> bool:
        return self.client_auth == TLS_CLIENT_AUTH

    @property
    def post_logout_redirect_uri(self) -> str:
        """Where the provider sends the browser after its logout: this webmail's check of
        the logout's ``state`` (register it with the provider too)."""
        parts = urlsplit(self.redirect_uri)
        return f"{parts.scheme}://{parts.netloc}{LOGOUT_RETURN_PATH}"


@dataclass(frozen=True)
class SignIn:
    identity: Identity
    tokens: Tokens


class PscClient:
    def __init__(self, config: PscConfig, redis: Redis) -> None:
        self.config = config
        self._redis = redis
        self._states = PscStates(redis)
        self._http = ProviderHttp(
            config.ca_bundle,
            config.timeout,
            config.client_certificate if config.mutual_tls else None,
        )
        self._metadata: dict[str, Any] | None = None
        self._metadata_until = 0.0
        self._keys: KeySet | None = None

    async def begin(self, binding: str, network: str) -> str:
        """The provider's authorization URL for a browser known by ``binding`` (its
        pre-login id), after remembering state, nonce and verifier for it; ``network``: the
        client's network (see ``networks.client_network``), whose starts are counted."""
        metadata = await self.metadata()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        pending = {"binding": digest(binding), "nonce": nonce, "verifier": verifier}
        await self._states.remember_sign_in(state, pending, network)
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
        pending = await self._states.take_sign_in(state)
        if not secrets.compare_digest(pending["binding"], digest(binding)):
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
        tokens = tokens_from(answer, previous_id_token="")
        # PSC puts the practitioner's claims in userinfo, not in the ID token.
        profile = {**claims, **await self.userinfo(tokens.access_token, str(claims["sub"]))}
        return SignIn(identity=identity_from(profile, self.config.mailbox_claim), tokens=tokens)

    async def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """The userinfo claims, as JSON or as a signed JWT (application/jwt), which must be
        the provider's, for this client, and about the ID token's subject."""
        endpoint = await self.endpoint("userinfo_endpoint")
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
        return keep_refresh(tokens_from(answer, previous_id_token=id_token), refresh_token)

    async def end_session_url(self, id_token: str) -> str | None:
        """The provider's logout for this browser (RP-initiated logout), which ends the
        PSC session and its grants too; None when the provider has no end-session endpoint.
        Its ``state`` is remembered for the way back (``logout_returned``)."""
        # The browser goes there, without a client certificate: never the mTLS alias.
        endpoint = str((await self.metadata()).get("end_session_endpoint", ""))
        if not is_https_url(endpoint) or not id_token:
            return None
        state = secrets.token_urlsafe(32)
        await self._states.remember_logout(state)
        query = {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": self.config.post_logout_redirect_uri,
            "client_id": self.config.client_id,
            "state": state,
        }
        return f"{endpoint}?{urlencode(query)}"

    async def logout_returned(self, state: str) -> bool:
        """Whether the provider's answer at the post-logout URI carries the ``state`` of a
        logout this webmail started (once: a second answer with it is not believed)."""
        return await self._states.take_logout(state)

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
                if not is_https_url(str(document.get(endpoint, ""))):
                    raise PscUnavailable(f"the discovery document has no https {endpoint}")
            _check_aliases(document.get("mtls_endpoint_aliases"))
            self._metadata, self._metadata_until = document, time.monotonic() + METADATA_SECONDS
            self._keys = None
        return self._metadata

    async def endpoint(self, name: str) -> str:
        """The address of a back-channel endpoint (``token_endpoint``...), "" when the
        provider has none: with mutual TLS, its mtls_endpoint_aliases entry when discovery
        lists one (RFC 8705 section 5), where the provider expects client certificates."""
        metadata = await self.metadata()
        if self.config.mutual_tls:
            aliases = metadata.get("mtls_endpoint_aliases")
            if isinstance(aliases, dict) and aliases.get(name):
                return str(aliases[name])
        return str(metadata.get(name, ""))

    async def client_post(self, endpoint_name: str, form: dict[str, str]) -> Answer:
        """A form POST to a back-channel endpoint, authenticated as this webmail: with its
        secret (HTTP Basic), or with its certificate and ``client_id`` in the form (RFC
        8705 section 2: no secret at all). Raises ProviderUnreachable."""
        url = await self.endpoint(endpoint_name)
        if self.config.mutual_tls:
            return await self._http.post_form(
                url, {**form, "client_id": self.config.client_id}, None
            )
        client = (self.config.client_id, self.config.client_secret)
        return await self._http.post_form(url, form, client)

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

    async def _token_request(
        self, form: dict[str, str], endpoint: str = "token_endpoint"
    ) -> dict[str, Any]:
        """A client-authenticated POST to the token endpoint, or to another ``endpoint`` of
        the discovery document (CIBA's backchannel_authentication_endpoint)."""
        try:
            answer = await self.client_post(endpoint, form)
            if 400 <= answer.status < 500:
                error = _error_code(answer)
                if error == "invalid_client":
                    # Our secret or certificate, not the user's grant (RFC 6749 5.2).
                    raise PscClientRefused(f"token_{error}")
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


def _error_code(answer: Answer) -> str:
    """The ``error`` of a token endpoint refusal (RFC 6749 5.2), kept short and plain for
    the audit trail."""
    code = str(answer.json().get("error", "refused"))[:40]
    return "".join(c for c in code if c.isalnum() or c == "_")


def _check_aliases(aliases: object) -> None:
    """mtls_endpoint_aliases, when present, must be an object of https addresses, like
    every endpoint discovery lists."""
    if aliases is None:
        return
    if not isinstance(aliases, dict) or not all(
        isinstance(url, str) and is_https_url(url) for url in aliases.values()
    ):
        raise PscUnavailable("the discovery document has unusable mtls_endpoint_aliases")


def _claim_name(error: JoseError) -> str:
    """iss, aud, exp... from joserfc's claim errors ("invalid_claim: Invalid claim: 'aud'")."""
    claim = getattr(error, "claim", "")
    return claim if isinstance(claim, str) and claim.isalpha() else "claims"
