"""Who may speak for the client: the reverse proxy, and only it.

nginx tells the app the client's address and scheme (``X-Forwarded-For``, ``-Proto``) and the
CPS card it verified (``X-SSL-Client-*``). Those headers are believed only when the peer that
connected is one of ``MSS_TRUSTED_PROXIES``; from anyone else they are removed before any view
runs, so a client reaching an instance directly cannot choose its address or claim a card.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
FORWARDED_HEADERS = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}
)
CLIENT_CERT_PREFIX = b"x-ssl-client-"
SCHEMES = {"http": {"http": "http", "https": "https"}, "websocket": {"http": "ws", "https": "wss"}}


@dataclass(frozen=True)
class ProxyConfig:
    trusted: tuple[Network, ...] = LOOPBACK


def parse_networks(value: str) -> tuple[Network, ...]:
    """``127.0.0.1, 10.0.0.0/8, ::1``: addresses or CIDR blocks; ValueError names the bad one."""
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"not an address or a CIDR block: {item!r}") from None
    return tuple(networks)


def is_trusted(host: str, trusted: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a unix socket or a test client: no address, no trust
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in trusted)


def forwarded_client(value: str) -> str | None:
    """The last address in X-Forwarded-For: the one our own proxy wrote (nginx overwrites
    the header, so there is only one; a proxy that appends puts its peer last)."""
    last = value.rsplit(",", 1)[-1].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:
        return None


class TrustedProxyMiddleware:
    def __init__(self, app: ASGIApp, config: ProxyConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in SCHEMES:
            client = scope.get("client")
            if client and is_trusted(client[0], self.config.trusted):
                scope = _applied(scope)
            else:
                scope = _stripped(scope)
        await self.app(scope, receive, send)


def _stripped(scope: Scope) -> Scope:
    headers = [
        (name, value)
        for name, value in scope["headers"]
        if name not in FORWARDED_HEADERS and not name.startswith(CLIENT_CERT_PREFIX)
    ]
    return {**scope, "headers": headers}


def _applied(scope: Scope) -> Scope:
    scope = dict(scope)
    headers = dict(scope["headers"])
    forwarded_for = headers.get(b"x-forwarded-for")
    if forwarded_for is not None:
        address = forwarded_client(forwarded_for.decode("latin-1"))
        if address is not None:
            scope["client"] = (address, 0)
    proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
    scheme = SCHEMES[scope["type"]].get(proto)
    if scheme is not None:
        scope["scheme"] = scheme
    return scope
