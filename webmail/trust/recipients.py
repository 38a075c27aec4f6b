"""Recipients against the whitelist: who is outside, and a confirmation bound to them.

In ``warn`` mode the user confirms a send outside the trust space. The confirmation is a keyed
hash of the account, the message and its recipients: it cannot be made up, works for that
message only, and stops working as soon as a recipient changes (the user is asked again).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from email.utils import getaddresses

from webmail.trust.whitelist import Whitelist, normalise_domain

CONFIRM_FIELD = "trust_confirm"  # the compose form's field carrying the confirmation


def domain_of(address: str) -> str | None:
    local, at, domain = address.strip().rpartition("@")
    return normalise_domain(domain) if at and local else None


def outside(whitelist: Whitelist, addresses: Iterable[str]) -> list[str]:
    """The addresses whose domain is not in ``whitelist`` (in order, once each)."""
    found = []
    for address in addresses:
        domain = domain_of(address)
        if domain is None or domain not in whitelist.domains:
            found.append(address)
    return list(dict.fromkeys(found))


def addresses_in(*fields: str) -> list[str]:
    """The addresses typed in To/Cc/Bcc while composing. Lenient: a half-typed entry (no
    domain yet) is skipped here; the send itself refuses what does not parse."""
    pairs = getaddresses([field.replace(";", ",") for field in fields])
    found = [address.strip() for _name, address in pairs if domain_of(address) is not None]
    return list(dict.fromkeys(found))


def confirmation(
    secret: str,
    account: str,
    message_id: str,
    recipients: Iterable[str],
    outside_addresses: Iterable[str],
) -> str:
    key = hmac.new(secret.encode(), b"mss-webmail trust confirmation", hashlib.sha256).digest()
    bound = json.dumps(
        [
            account.lower(),
            message_id,
            sorted({a.lower() for a in recipients}),
            sorted({a.lower() for a in outside_addresses}),
        ]
    )
    return hmac.new(key, bound.encode(), hashlib.sha256).hexdigest()


def confirmed(token: str, expected: str) -> bool:
    return bool(token) and hmac.compare_digest(token.encode(), expected.encode())
