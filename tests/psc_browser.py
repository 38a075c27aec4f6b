"""Signing in at the Pro Santé Connect look-alike as a browser would, through httpx."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import ssl
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from joserfc import jwt
from joserfc.jwk import RSAKey
from redis.asyncio import Redis
from starlette.testclient import TestClient

from dev.psc import MTLS_SUBJECT, PscProvider
from dev.stack import _openssl
from tests.conftest import PSC_REDIRECT_URI, soup
from webmail.auth.oidc import PscClient, PscConfig, Tokens
from webmail.auth.oidc_http import ClientCertificate

DEMO_LOGIN = "899700000001"


def provider_client(psc: PscProvider) -> httpx2.Client:
    """A cookie-keeping client that trusts the stack's CA, as the practitioner's browser."""
    context = ssl.create_default_context(cafile=str(psc.stack.ca_cert))
    return httpx2.Client(verify=context, follow_redirects=False, timeout=10)


def sign_in(
    browser: httpx2.Client, authorization_url: str, login: str = DEMO_LOGIN, acr: str = "eidas1"
) -> str:
    """Follow the provider from the authorization URL to the redirect back to the client,
    submitting its sign-in form on the way; returns that redirect's URL (code and state)."""
    url = authorization_url
    for _hop in range(10):
        response = browser.get(url)
        if response.status_code == 200:
            form = soup(response.text).select_one("form")
            assert form is not None, response.text
            response = browser.post(
                urljoin(url, str(form["action"])), data={"login": login, "acr": acr}
            )
        assert response.status_code in (302, 303), response.text
        url = urljoin(url, response.headers["location"])
        if not url.startswith(str(browser_base(authorization_url))):
            return url
    raise AssertionError("the provider never sent the browser back to the client")


def browser_base(url: str) -> str:
    scheme, _, host = url.partition("://")
    return f"{scheme}://{host.split('/', 1)[0]}/"


def psc_env(psc: PscProvider, env: dict[str, str], audit_file: Path) -> dict[str, str]:
    """The webmail's settings for PSC sign-in at the look-alike (client secret)."""
    return {
        **env,
        "MSS_AUDIT_LOG": str(audit_file),
        "MSS_PSC_ENABLED": "true",
        "MSS_PSC_ISSUER": psc.issuer,
        "MSS_PSC_CLIENT_ID": psc.client_id,
        "MSS_PSC_CLIENT_SECRET": psc.client_secret,
        "MSS_PSC_REDIRECT_URI": PSC_REDIRECT_URI,
    }


def mtls_env(psc: PscProvider, env: dict[str, str], audit_file: Path) -> dict[str, str]:
    """The same with mutual TLS: the webmail's certificate, no secret."""
    return {
        **psc_env(psc, env, audit_file),
        "MSS_PSC_CLIENT_AUTH": "tls_client_auth",
        "MSS_PSC_CLIENT_ID": psc.mtls_client_id,
        "MSS_PSC_CLIENT_SECRET": "",
        "MSS_PSC_CLIENT_CERT": str(psc.client_cert),
        "MSS_PSC_CLIENT_KEY": str(psc.client_key),
    }


def psc_config(psc: PscProvider, **overrides: Any) -> PscConfig:
    values: dict[str, Any] = {
        "issuer": psc.issuer,
        "discovery_url": psc.discovery_url,
        "client_id": psc.client_id,
        "client_secret": psc.client_secret,
        "redirect_uri": PSC_REDIRECT_URI,
        "ca_bundle": psc.stack.ca_cert,
    }
    values.update(overrides)
    return PscConfig(**values)


async def tokens_for(psc: PscProvider, login: str, config: PscConfig | None = None) -> Tokens:
    """A whole sign-in for ``login`` (a demo id, or any test mailbox address): its tokens."""
    redis = Redis.from_url(f"redis://127.0.0.1:{psc.stack.redis}/0")
    try:
        client = PscClient(config or psc_config(psc), redis)
        binding = secrets.token_urlsafe(16)
        url = await client.begin(binding, "192.0.2.1/32")
        with provider_client(psc) as browser:
            query = parse_qs(urlsplit(sign_in(browser, url, login=login)).query)
        return (await client.finish(binding, query["state"][0], query["code"][0])).tokens
    finally:
        await redis.aclose()


# -- the webmail's pages, through a TestClient ------------------------------------------


def audit_entries(audit_file: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in audit_file.read_text().splitlines()]


def provider_redirect(
    client: TestClient,
    psc: PscProvider,
    login: str,
    acr: str = "eidas1",
    browser: httpx2.Client | None = None,
) -> str:
    """The path and query the provider sends the browser back to (after the button);
    ``browser``: the provider's side of the browser, to keep its cookies."""
    start = client.get("/login/psc")
    assert start.status_code == 303
    with contextlib.ExitStack() as stack:
        if browser is None:
            browser = stack.enter_context(provider_client(psc))
        back = sign_in(browser, start.headers["location"], login=login, acr=acr)
    assert back.startswith(PSC_REDIRECT_URI)
    parts = urlsplit(back)
    return f"{parts.path}?{parts.query}"


def sign_in_as(client: TestClient, psc: PscProvider, login: str) -> None:
    done = client.get(provider_redirect(client, psc, login))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/mail"


def login_error(response_text: str) -> str:
    alert = soup(response_text).select_one(".alert-error")
    assert alert is not None, response_text
    return alert.get_text(" ", strip=True)


# -- ID tokens made with the provider's own key, to test each check alone -------------


def forged(psc: PscProvider, **changes: Any) -> str:
    """An ID token signed with the provider's own key: only ``changes`` are wrong (a None
    value drops the claim)."""
    now = int(time.time())
    claims = {
        "iss": psc.issuer,
        "aud": psc.client_id,
        "sub": DEMO_LOGIN,
        "iat": now,
        "exp": now + 60,
        "nonce": "n",
        "acr": "eidas1",
    }
    claims.update(changes)
    claims = {key: value for key, value in claims.items() if value is not None}
    key = RSAKey.import_key(psc.signing_key.read_bytes())
    return jwt.encode({"alg": "RS256", "kid": "psc-dev"}, claims, key)


def tamper_payload(token: str) -> str:
    """The token with another subject, its signature left as it was."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "899700000099"
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


# -- client certificates for mutual TLS ----------------------------------------------------


def foreign_client_certificate(directory: Path, subject: str = MTLS_SUBJECT) -> ClientCertificate:
    """A client certificate with ``subject`` from a CA of its own, which the provider does
    not trust (the same subject as the registered one unless told otherwise)."""
    ca_key, ca_cert = directory / "other-ca.key", directory / "other-ca.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/O=Another CA/CN=Another CA", "-keyout", str(ca_key), "-out", str(ca_cert))  # fmt: skip
    key, request, cert = directory / "c.key", directory / "c.csr", directory / "c.pem"
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
             "-keyout", str(key), "-out", str(request))  # fmt: skip
    _openssl("x509", "-req", "-in", str(request), "-days", "2", "-CA", str(ca_cert),
             "-CAkey", str(ca_key), "-set_serial", "0x1234", "-out", str(cert))  # fmt: skip
    return ClientCertificate(cert, key)


def mtls_config(
    psc: PscProvider, certificate: ClientCertificate | None = None, **overrides: Any
) -> PscConfig:
    """The webmail's mutual-TLS client at the provider, with its own certificate unless
    ``certificate`` is given."""
    return psc_config(
        psc,
        client_id=psc.mtls_client_id,
        client_secret="",
        client_auth="tls_client_auth",
        client_certificate=certificate or ClientCertificate(psc.client_cert, psc.client_key),
        **overrides,
    )
