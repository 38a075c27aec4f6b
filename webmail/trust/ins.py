"""The national health identity (INS): its OIDs and the check of its number.

The INS number is the patient's NIR (social security number) or, for people without one, a
NIA; both are 13 characters and a 2-digit key. Test identities use OIDs of their own, and must
never be taken for a qualified identity.
"""

from __future__ import annotations

import re

NIR_OID = "1.2.250.1.213.1.4.8"
NIA_OID = "1.2.250.1.213.1.4.9"
TEST_OIDS = ("1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11")
# What the compose form offers, and the OID each choice is written with.
KIND_OIDS = {"NIR": NIR_OID, "NIA": NIA_OID, "test": TEST_OIDS[0]}

_NUMBER = re.compile(r"[12378]\d{4}(\d{2}|2A|2B)\d{6}\d{2}")


def kind(oid: str) -> str:
    """ "NIR", "NIA", "test", or "" for an OID that is not one of the INS."""
    if oid == NIR_OID:
        return "NIR"
    if oid == NIA_OID:
        return "NIA"
    if oid in TEST_OIDS:
        return "test"
    return ""


def qualified(oid: str) -> bool:
    """Whether an identity under this OID is a real national identity (never a test one)."""
    return oid in (NIR_OID, NIA_OID)


def normalise(number: str) -> str:
    return re.sub(r"[\s.-]", "", number).upper()


def valid_number(number: str) -> bool:
    """15 characters whose last two are the key: 97 minus the first 13 modulo 97 (Corsica's
    2A and 2B counted as 19 and 18, as the NIR rules say)."""
    if not _NUMBER.fullmatch(number):
        return False
    return with_key(number[:13]) == number


def with_key(body: str) -> str:
    """The 13 characters followed by their key (to make test identities)."""
    value = int(body.replace("2A", "19").replace("2B", "18"))
    return f"{body}{97 - value % 97:02d}"
