"""Pro Santé Connect sign-in (webmail/auth/oidc.py) against the real PSC look-alike and Redis."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from redis.asyncio import Redis

from dev.psc import PscProvider
from dev.stack import Stack
from tests.conftest import PSC_REDIRECT_URI
from tests.psc_browser import (
    DEMO_LOGIN,
    forged,
    provider_client,
    psc_config,
    sign_in,
    tamper_payload,
)
from webmail.auth import oidc_states
from webmail.auth.oidc import PscClient, PscRefused, PscTooManyStarts
from webmail.auth.oidc_http import Answer, ProviderHttp


@pytest.fixture
async def client(psc: PscProvider, stack: Stack) -> AsyncIterator[PscClient]:
    redis = Redis.from_url(f"redis://127.0.0.1:{stack.redis}/0")
    try:
        yield PscClient(psc_config(psc), redis)
    finally:
        await redis.aclose()


async def provider_answer(
    psc: PscProvider, client: PscClient, binding: str, acr: str = "eidas1"
) -> tuple[str, str]:
    """(state, code) as the provider sends them back to the redirect URI."""
    url = await client.begin(binding, "192.0.2.1/32")
    with provider_client(psc) as browser:
        back = sign_in(browser, url, acr=acr)
    assert back.startswith(PSC_REDIRECT_URI + "?")
    query = parse_qs(urlsplit(back).query)
    return query["state"][0], query["code"][0]


async def test_sign_in_gives_the_identity_and_tokens(psc: PscProvider, client: PscClient) -> None:
    binding = secrets.token_urlsafe(16)
    url = await client.begin(binding, "192.0.2.1/32")
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == ["openid scope_all"] and query["acr_values"] == ["eidas1"]
    assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [
        PSC_REDIRECT_URI
    ]
    with provider_client(psc) as browser:
        back = parse_qs(urlsplit(sign_in(browser, url)).query)
    done = await client.finish(binding, back["state"][0], back["code"][0])
    assert done.identity.national_id == DEMO_LOGIN
    assert (done.identity.given_name, done.identity.family_name) == ("Claire", "Martin")
    assert done.identity.profession_code == "10"
    assert done.identity.mailbox == "dr.martin@medecin.mssante.test"
    assert done.tokens.access_token and done.tokens.refresh_token
    assert time.time() < done.tokens.expires_at <= time.time() + 10


async def test_a_state_works_once(psc: PscProvider, client: PscClient) -> None:
    binding = secrets.token_urlsafe(16)
    state, code = await provider_answer(psc, client, binding)
    await client.finish(binding, state, code)
    with pytest.raises(PscRefused) as refused:
        await client.finish(binding, state, code)
    assert refused.value.reason == "state_unknown"


async def test_a_state_is_good_only_for_the_browser_that_started(
    psc: PscProvider, client: PscClient
) -> None:
    state, code = await provider_answer(psc, client, "the-doctors-browser")
    with pytest.raises(PscRefused) as refused:
        await client.finish("an-attackers-browser", state, code)
    assert refused.value.reason == "state_other_browser"
    # And the attempt used it up: the legitimate browser cannot be raced into a replay either.
    with pytest.raises(PscRefused):
        await client.finish("the-doctors-browser", state, code)


@pytest.mark.parametrize("state", ["", "never-issued", "x" * 300])
async def test_an_unknown_state_is_refused(client: PscClient, state: str) -> None:
    with pytest.raises(PscRefused) as refused:
        await client.finish("b", state, "code")
    assert refused.value.reason in ("state_unknown", "state_missing")


async def test_a_weaker_acr_is_refused(psc: PscProvider, client: PscClient) -> None:
    state, code = await provider_answer(psc, client, "b", acr="eidas-faible")
    with pytest.raises(PscRefused) as refused:
        await client.finish("b", state, code)
    assert refused.value.reason == "id_token_acr"


async def test_a_code_from_another_sign_in_is_refused_by_pkce(
    psc: PscProvider, client: PscClient
) -> None:
    first_state, _ = await provider_answer(psc, client, "b")
    _, other_code = await provider_answer(psc, client, "b")
    with pytest.raises(PscRefused) as refused:
        await client.finish("b", first_state, other_code)
    assert refused.value.reason == "token_invalid_grant"


# -- ID tokens forged with the provider's own key: only the claim under test is wrong ---------


async def test_a_well_formed_token_passes(psc: PscProvider, client: PscClient) -> None:
    claims = await client.check_id_token(forged(psc), "n")
    assert claims["sub"] == DEMO_LOGIN


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "another-client"}, "id_token_aud"),
        ({"aud": ["another-client", "mss-webmail"]}, "id_token_aud"),
        ({"iss": "https://auth.example.test"}, "id_token_iss"),
        ({"exp": int(time.time()) - 120}, "id_token_expired"),
        ({"exp": None}, "id_token_exp"),
        ({"nonce": "another"}, "id_token_nonce"),
        ({"nonce": None}, "id_token_nonce"),
        ({"acr": None}, "id_token_acr"),
        ({"acr": "eidas2"}, "id_token_acr"),
    ],
)
async def test_a_wrong_claim_is_refused(
    psc: PscProvider, client: PscClient, changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(PscRefused) as refused:
        await client.check_id_token(forged(psc, **changes), "n")
    assert refused.value.reason == reason


async def test_a_tampered_or_foreign_signature_is_refused(
    psc: PscProvider, client: PscClient
) -> None:
    other_key = RSAKey.generate_key(2048)
    foreign = jwt.encode(
        {"alg": "RS256", "kid": "psc-dev"},
        {"iss": psc.issuer, "aud": psc.client_id, "sub": "x", "nonce": "n", "acr": "eidas1"},
        other_key,
    )
    unsigned = forged(psc).rsplit(".", 1)[0] + "."
    for token in (tamper_payload(forged(psc)), foreign, unsigned, "not-a-jwt"):
        with pytest.raises(PscRefused) as refused:
            await client.check_id_token(token, "n")
        assert refused.value.reason == "id_token_signature", token


async def test_refresh_gives_a_new_access_token(psc: PscProvider, client: PscClient) -> None:
    state, code = await provider_answer(psc, client, "b")
    first = (await client.finish("b", state, code)).tokens
    renewed = await client.refresh(first.refresh_token, first.id_token)
    assert renewed.access_token != first.access_token and renewed.refresh_token
    assert renewed.id_token


async def test_a_refresh_token_the_provider_does_not_know_is_refused(client: PscClient) -> None:
    with pytest.raises(PscRefused) as refused:
        await client.refresh("forged-" + secrets.token_urlsafe(32), "")
    assert refused.value.reason == "token_invalid_grant"


async def test_userinfo_as_a_signed_jwt_is_verified(psc: PscProvider, stack: Stack) -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{stack.redis}/0")
    try:
        client = PscClient(psc_config(psc, client_id=psc.client_id + "-jwt"), redis)
        state, code = await provider_answer(psc, client, "b")
        done = await client.finish("b", state, code)
        assert done.identity.family_name == "Martin" and done.identity.profession_code == "10"
    finally:
        await redis.aclose()


async def test_userinfo_jwt_with_a_bad_signature_is_refused(
    psc: PscProvider, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ProviderHttp.get

    async def tampered(self: ProviderHttp, url: str, bearer: str | None = None) -> Answer:
        answer = await original(self, url, bearer)
        if answer.content_type != "application/jwt":
            return answer
        return replace(answer, body=tamper_payload(answer.body.decode()).encode())

    monkeypatch.setattr(ProviderHttp, "get", tampered)
    redis = Redis.from_url(f"redis://127.0.0.1:{stack.redis}/0")
    try:
        client = PscClient(psc_config(psc, client_id=psc.client_id + "-jwt"), redis)
        state, code = await provider_answer(psc, client, "b")
        with pytest.raises(PscRefused) as refused:
            await client.finish("b", state, code)
        assert refused.value.reason == "userinfo_signature"
    finally:
        await redis.aclose()


async def test_one_network_cannot_fill_redis_with_sign_in_starts(
    client: PscClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oidc_states, "STARTS_PER_NETWORK", 3)
    network = f"2001:db8:{secrets.randbelow(65536):x}::/64"
    for _ in range(3):
        await client.begin(secrets.token_urlsafe(16), network)
    with pytest.raises(PscTooManyStarts):
        await client.begin(secrets.token_urlsafe(16), network)
    # Another network is not held by it.
    await client.begin(secrets.token_urlsafe(16), "198.51.100.7/32")
