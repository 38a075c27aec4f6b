"""The rule that decides which peers speak for the client (webmail/security/proxy.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from webmail.security.proxy import ProxyConfig, TrustedProxyMiddleware, parse_networks

FORGED = [
    (b"host", b"webmail.example.org"),
    (b"x-forwarded-for", b"198.51.100.9"),
    (b"x-forwarded-proto", b"https"),
    (b"x-forwarded-host", b"evil.example"),
    (b"forwarded", b"for=198.51.100.9"),
    (b"x-ssl-client-cert", b"-----BEGIN%20CERTIFICATE-----"),
    (b"x-ssl-client-subject", b"CN=810001234567"),
]


def seen(peer: tuple[str, int] | None, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The scope the app behind the middleware receives from ``peer``."""
    received: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.update(scope)

    config = ProxyConfig(trusted=parse_networks("127.0.0.1, 10.1.0.0/16"))
    scope = {"type": "http", "client": peer, "headers": headers, "scheme": "http"}
    asyncio.run(TrustedProxyMiddleware(app, config)(scope, None, None))  # type: ignore[arg-type]
    return received


@pytest.mark.parametrize(
    "peer", [("192.0.2.44", 50000), ("127.0.0.2", 50000), ("testclient", 50000), None]
)
def test_an_untrusted_peer_cannot_choose_its_address_or_claim_a_card(
    peer: tuple[str, int] | None,
) -> None:
    scope = seen(peer, FORGED)
    assert scope["client"] == peer
    assert scope["scheme"] == "http"
    assert scope["headers"] == [(b"host", b"webmail.example.org")]


@pytest.mark.parametrize("peer", ["127.0.0.1", "10.1.200.3", "::ffff:10.1.0.1"])
def test_a_trusted_proxy_gives_the_client_address_scheme_and_card(peer: str) -> None:
    scope = seen((peer, 40000), FORGED)
    assert scope["client"] == ("198.51.100.9", 0)
    assert scope["scheme"] == "https"
    assert (b"x-ssl-client-subject", b"CN=810001234567") in scope["headers"]


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        (b"203.0.113.5, 198.51.100.9", "198.51.100.9"),  # the proxy's own entry is the last
        (b"not-an-address", "127.0.0.1"),
        (b"2001:db8::1", "2001:db8::1"),
    ],
)
def test_only_a_well_formed_last_address_is_taken(forwarded_for: bytes, client: str) -> None:
    scope = seen(("127.0.0.1", 40000), [(b"x-forwarded-for", forwarded_for)])
    assert scope["client"][0] == client


def test_an_odd_scheme_is_ignored() -> None:
    scope = seen(("127.0.0.1", 40000), [(b"x-forwarded-proto", b"javascript")])
    assert scope["scheme"] == "http"
