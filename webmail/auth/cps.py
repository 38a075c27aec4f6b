"""Sign-in with a CPS card presented to nginx as a TLS client certificate.

nginx verifies the card's chain against the IGC-Santé bundle and, only then, passes the
certificate to the app (``X-SSL-Client-Cert``, URL-encoded PEM); the app believes that header
only from MSS_TRUSTED_PROXIES (webmail.security.proxy). Here: read the card's national id
(RPPS/ADELI, prefixed with its type as the directory writes it, e.g. ``810001234567``) from
the certificate's subject, and find which mailboxes it may open.

The card replaces the second factor, not the password: the operator's IMAP server still needs
the mailbox password (it knows nothing of the card), so the user types it once.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

CERT_HEADER = "x-ssl-client-cert"
# The subject attributes that may carry the national id; which one, a setting.
ID_ATTRIBUTES: dict[str, ObjectIdentifier] = {
    "cn": NameOID.COMMON_NAME,
    "serialnumber": NameOID.SERIAL_NUMBER,
    "uid": NameOID.USER_ID,
}
_NATIONAL_ID = re.compile(r"[0-9A-Za-z]{4,20}")
_ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
MAX_CERT_BYTES = 16_384


class CardUnreadable(Exception):
    """The header holds no certificate, or one whose subject names no national id."""


@dataclass(frozen=True)
class CpsConfig:
    # National id -> the mailboxes it opens, read from MSS_CPS_MAPPING at start; None: the
    # national directory's personal (PER) mailboxes of that id.
    mapping: Mapping[str, tuple[str, ...]] | None = None
    # The subject attribute holding the national id: cn, serialnumber or uid.
    id_attribute: str = "cn"


@dataclass(frozen=True)
class Card:
    national_id: str
    holder: str  # the name on the card, shown on the sign-in page
    serial: str
    issuer: str


def read_card(header: str, id_attribute: str) -> Card:
    """The card described by nginx's ``$ssl_client_escaped_cert``."""
    pem = urllib.parse.unquote(header[: 3 * MAX_CERT_BYTES]).encode("ascii", "replace")
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as error:
        raise CardUnreadable("not a PEM certificate") from error
    subject = certificate.subject
    values = [str(a.value) for a in subject.get_attributes_for_oid(ID_ATTRIBUTES[id_attribute])]
    if not values:
        raise CardUnreadable(f"no {id_attribute} in the subject")
    # IGC-Santé writes "<id>/<name>" in some profiles' CN: the id is what comes first.
    national_id, _, named = values[0].partition("/")
    national_id = national_id.strip()
    if not _NATIONAL_ID.fullmatch(national_id):
        raise CardUnreadable("the national id is malformed")
    return Card(
        national_id=national_id,
        holder=_holder(subject) or named.strip(),
        serial=format(certificate.serial_number, "X"),
        issuer=certificate.issuer.rfc4514_string(),
    )


def _holder(subject: x509.Name) -> str:
    parts = [
        str(attribute.value)
        for oid in (NameOID.GIVEN_NAME, NameOID.SURNAME)
        for attribute in subject.get_attributes_for_oid(oid)
    ]
    return " ".join(parts)


def read_mapping(path: Path) -> dict[str, tuple[str, ...]]:
    """``national id  address`` per line (spaces, tab or ``|`` between; ``#`` comments): an
    id may open several mailboxes. Raises ValueError naming the first bad line."""
    mapping: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("#", 1)[0].replace("|", " ").split()
        if not fields:
            continue
        if (
            len(fields) != 2
            or not _NATIONAL_ID.fullmatch(fields[0])
            or not _ADDRESS.match(fields[1])
        ):
            raise ValueError(f"line {number}: expected a national id and an address")
        mapping.setdefault(fields[0], []).append(fields[1].lower())
    return {key: tuple(addresses) for key, addresses in mapping.items()}
