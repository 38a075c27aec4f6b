"""The Pro Santé Connect look-alike provider (dev/psc.py): what the webmail relies on."""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest

from dev.psc import PscProvider
from tests.conftest import PSC_REDIRECT_URI
from tests.psc_browser import provider_client, sign_in


def _discovery(psc: PscProvider) -> dict[str, object]:
    context = ssl.create_default_context(cafile=str(psc.stack.ca_cert))
    document = httpx2.get(psc.discovery_url, verify=context).json()
    assert isinstance(document, dict)
    return document


def test_discovery_at_the_wallet_path_looks_like_psc(psc: PscProvider) -> None:
    document = _discovery(psc)
    assert document["issuer"] == psc.issuer
    assert document["acr_values_supported"] == ["eidas1"]
    assert "scope_all" in document["scopes_supported"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"SubjectNameID", "SubjectRefPro", "given_name", "family_name"} <= set(
        document["claims_supported"]  # type: ignore[arg-type]
    )
    assert "introspection_endpoint" in document


def _authorization_url(psc: PscProvider, verifier: str, **extra: str) -> str:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = {
        "response_type": "code",
        "client_id": psc.client_id,
        "redirect_uri": PSC_REDIRECT_URI,
        "scope": "openid scope_all",
        "acr_values": "eidas1",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{_discovery(psc)['authorization_endpoint']}?{urlencode(query)}"


def _tokens(psc: PscProvider, code: str, verifier: str) -> httpx2.Response:
    context = ssl.create_default_context(cafile=str(psc.stack.ca_cert))
    return httpx2.post(
        str(_discovery(psc)["token_endpoint"]),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": PSC_REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(psc.client_id, psc.client_secret),
        verify=context,
    )


def test_code_flow_with_pkce_gives_tokens_the_introspection_accepts(psc: PscProvider) -> None:
    verifier = secrets.token_urlsafe(48)
    with provider_client(psc) as browser:
        back = sign_in(browser, _authorization_url(psc, verifier))
    query = parse_qs(urlsplit(back).query)
    assert back.startswith(PSC_REDIRECT_URI) and query["state"] == ["s"]
    tokens = _tokens(psc, query["code"][0], verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["refresh_token"] and body["id_token"] and body["expires_in"] <= 6
    context = ssl.create_default_context(cafile=str(psc.stack.ca_cert))
    introspected = httpx2.post(
        str(_discovery(psc)["introspection_endpoint"]),
        data={"token": body["access_token"]},
        auth=(psc.client_id, psc.client_secret),
        verify=context,
    ).json()
    assert introspected["active"] is True and introspected["sub"] == "899700000001"
    # A code is good once only.
    assert _tokens(psc, query["code"][0], verifier).status_code == 400


def test_a_wrong_pkce_verifier_gets_no_tokens(psc: PscProvider) -> None:
    verifier = secrets.token_urlsafe(48)
    with provider_client(psc) as browser:
        back = sign_in(browser, _authorization_url(psc, verifier))
    code = parse_qs(urlsplit(back).query)["code"][0]
    assert _tokens(psc, code, secrets.token_urlsafe(48)).status_code == 400


@pytest.mark.parametrize("missing", ["code_challenge", "code_challenge_method"])
def test_pkce_is_required(psc: PscProvider, missing: str) -> None:
    url = _authorization_url(psc, secrets.token_urlsafe(48))
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != missing}
    with provider_client(psc) as browser:
        back = sign_in(browser, parts._replace(query=urlencode(query)).geturl())
    assert "error" in parse_qs(urlsplit(back).query)


def test_discovery_lists_the_mtls_aliases_and_they_want_a_certificate(psc: PscProvider) -> None:
    aliases = _discovery(psc)["mtls_endpoint_aliases"]
    assert isinstance(aliases, dict)
    assert aliases["token_endpoint"] == psc.mtls_url + "/token"
    context = ssl.create_default_context(cafile=str(psc.stack.ca_cert))
    # The mTLS client with no certificate, or with the other client's secret: refused.
    for auth in (None, (psc.mtls_client_id, psc.client_secret)):
        refused = httpx2.post(
            str(aliases["token_endpoint"]),
            data={
                "grant_type": "refresh_token",
                "refresh_token": "x",
                "client_id": psc.mtls_client_id,
            }
            if auth is None
            else {"grant_type": "refresh_token", "refresh_token": "x"},
            auth=auth,
            verify=context,
        )
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "invalid_client"
