"""Mutual-TLS client authentication (RFC 8705 tls_client_auth) at the real PSC look-alike:
the webmail known by its certificate, at the endpoints' mTLS aliases, and refused otherwise."""

from __future__ import annotations

import secrets
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from redis.asyncio import Redis

from dev.psc import PscProvider
from dev.stack import Stack
from tests.psc_browser import (
    foreign_client_certificate,
    mtls_config,
    provider_client,
    sign_in,
)
from webmail.auth.oidc import PscClient, PscClientRefused, PscConfig, PscUnavailable
from webmail.auth.oidc_http import Answer, ClientCertificate, ProviderHttp


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    connection = Redis.from_url(f"redis://127.0.0.1:{stack.redis}/0")
    try:
        yield connection
    finally:
        await connection.aclose()


def new_login() -> str:
    """A practitioner of its own (the provider counts grants per account)."""
    return f"mtls-{secrets.token_hex(4)}@medecin.mssante.test"


async def sign_in_with(psc: PscProvider, client: PscClient, login: str) -> Any:
    binding = secrets.token_urlsafe(16)
    url = await client.begin(binding, "192.0.2.1/32")
    with provider_client(psc) as browser:
        query = parse_qs(urlsplit(sign_in(browser, url, login=login)).query)
    return await client.finish(binding, query["state"][0], query["code"][0])


async def test_sign_in_and_refresh_with_the_client_certificate_at_the_mtls_aliases(
    psc: PscProvider, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[urllib.request.Request] = []
    original = ProviderHttp._call

    async def recorded(self: ProviderHttp, request: urllib.request.Request) -> Answer:
        sent.append(request)
        return await original(self, request)

    monkeypatch.setattr(ProviderHttp, "_call", recorded)
    client = PscClient(mtls_config(psc), redis)
    login = new_login()
    done = await sign_in_with(psc, client, login)
    assert done.identity.mailbox == login
    renewed = await client.refresh(done.tokens.refresh_token, done.tokens.id_token)
    assert renewed.access_token != done.tokens.access_token
    # Both token requests went to the alias, with client_id in the form and no secret.
    posts = [request for request in sent if request.data is not None]
    assert [request.full_url for request in posts] == [psc.mtls_url + "/token"] * 2
    for request in posts:
        assert request.get_header("Authorization") is None
        assert parse_qs(request.data.decode())["client_id"] == [psc.mtls_client_id]  # type: ignore[union-attr]
    # Userinfo too, with the user's token.
    assert any(request.full_url == psc.mtls_url + "/me" for request in sent)
    # The provider's own count: it accepted them there, with the certificate.
    assert psc.grants(login) == {"authorization_code@mtls": 1, "refresh_token@mtls": 1}


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(None, id="another-ca-same-subject"),
        pytest.param("/O=MSS webmail development/CN=someone-else", id="right-ca-other-subject"),
    ],
)
async def test_a_wrong_client_certificate_is_refused(
    psc: PscProvider, stack: Stack, redis: Redis, tmp_path: Path, subject: str | None
) -> None:
    if subject is None:
        certificate = foreign_client_certificate(tmp_path)
    else:
        certificate = ClientCertificate(tmp_path / "c.pem", tmp_path / "c.key")
        stack.issue_client_certificate(certificate.cert, certificate.key, subject)
    client = PscClient(mtls_config(psc, certificate), redis)
    with pytest.raises(PscClientRefused) as refused:
        await sign_in_with(psc, client, new_login())
    assert refused.value.reason == "token_invalid_client"


async def test_no_client_certificate_is_refused(psc: PscProvider, redis: Redis) -> None:
    client = PscClient(mtls_config(psc), redis)
    # The same client, its connection without the certificate.
    client._http = ProviderHttp(psc.stack.ca_cert, 10)
    with pytest.raises(PscClientRefused) as refused:
        await sign_in_with(psc, client, new_login())
    assert refused.value.reason == "token_invalid_client"


async def test_the_secret_client_calls_the_main_endpoints(psc: PscProvider, redis: Redis) -> None:
    config = PscConfig(
        issuer=psc.issuer,
        discovery_url=psc.discovery_url,
        client_id=psc.client_id,
        client_secret=psc.client_secret,
        redirect_uri="http://127.0.0.1:8000/login/psc/callback",
        ca_bundle=psc.stack.ca_cert,
    )
    client = PscClient(config, redis)
    assert await client.endpoint("token_endpoint") == psc.issuer + "/token"
    login = new_login()
    await sign_in_with(psc, client, login)
    assert psc.grants(login) == {"authorization_code@main": 1}


@pytest.mark.parametrize(
    "aliases",
    [
        {"token_endpoint": "http://localhost:1/token"},
        {"token_endpoint": "file:///etc/passwd"},
        ["https://localhost:1/token"],
    ],
)
async def test_discovery_with_unusable_mtls_aliases_is_not_used(
    psc: PscProvider, redis: Redis, monkeypatch: pytest.MonkeyPatch, aliases: object
) -> None:
    original = PscClient._get_json

    async def altered(self: PscClient, url: str) -> dict[str, Any]:
        document = await original(self, url)
        return (
            {**document, "mtls_endpoint_aliases": aliases}
            if url.endswith("configuration")
            else document
        )

    monkeypatch.setattr(PscClient, "_get_json", altered)
    with pytest.raises(PscUnavailable):
        await PscClient(mtls_config(psc), redis).metadata()
