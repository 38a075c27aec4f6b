"""Which client addresses count as one for the brute-force limits.

An IPv6 user is usually given a whole /64 (2^64 addresses): counting failures per address
would give an attacker there as many fresh counters as they like. Every per-address limit
therefore counts per network: an IPv6 address stands for its prefix (``MSS_IPV6_PREFIX``,
/64 by default), an IPv4 address for itself, and an IPv4-mapped IPv6 address
(``::ffff:192.0.2.1``, as a dual-stack socket reports IPv4 clients) for its IPv4 address.
"""

from __future__ import annotations

import hashlib
import ipaddress

DEFAULT_IPV6_PREFIX = 64
MIN_IPV6_PREFIX = 48
MAX_IPV6_PREFIX = 128


def client_network(address: str, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """The network that ``address`` is counted as, written as a CIDR block.

    Something that is not an IP address (a Unix socket peer, a test client's name) is
    counted as itself.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone id is not the host
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"{ip.ipv4_mapped}/32"
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return f"{ip}/32"


def account_digest(account: str) -> str:
    """An account as Redis keys name it: hashed, so that the keys list no addresses."""
    return hashlib.sha256(account.lower().encode()).hexdigest()[:32]


def account_network_digest(
    account: str, address: str, ipv6_prefix: int = DEFAULT_IPV6_PREFIX
) -> str:
    """An account and the client's network together, hashed: Redis keeps no directory of
    who signs in from where (an empty account: the network alone)."""
    network = client_network(address, ipv6_prefix)
    return hashlib.sha256(f"{account.lower()}\x00{network}".encode()).hexdigest()[:32]
