"""What Pro Santé Connect's answers say: tokens from the token endpoint, the practitioner
from the ID token and userinfo claims. Plain parsing: every signature and claim check is
done before (webmail.auth.oidc)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from webmail.auth.oidc_errors import PscRefused


@dataclass(frozen=True)
class Identity:
    subject: str
    # SubjectNameID: the national id (8 + RPPS, or ADELI): for the audit trail.
    national_id: str
    given_name: str
    family_name: str
    profession_code: str
    mailbox: str
    # SubjectRole's first profession label ("médecin"), shown when the code is not in
    # the webmail's own table.
    role_label: str = ""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    id_token: str
    expires_at: float


def tokens_from(answer: dict[str, Any], previous_id_token: str) -> Tokens:
    access = answer.get("access_token")
    bearer = str(answer.get("token_type", "")).lower() == "bearer"
    if not isinstance(access, str) or not access or not bearer:
        raise PscRefused("token_missing")
    lifetime = answer.get("expires_in")
    expires_in = lifetime if isinstance(lifetime, int) and 0 < lifetime <= 86400 else 60
    return Tokens(
        access_token=access,
        refresh_token=str(answer.get("refresh_token") or ""),
        id_token=str(answer.get("id_token") or previous_id_token),
        expires_at=time.time() + expires_in,
    )


def keep_refresh(tokens: Tokens, refresh_token: str) -> Tokens:
    """A provider that does not rotate refresh tokens answers without one: keep ours."""
    return tokens if tokens.refresh_token else replace(tokens, refresh_token=refresh_token)


def identity_from(claims: dict[str, Any], mailbox_claim: str) -> Identity:
    mailbox = claims.get(mailbox_claim)
    if not isinstance(mailbox, str) or "@" not in mailbox or len(mailbox) > 320:
        raise PscRefused("mailbox_claim_missing")
    return Identity(
        subject=str(claims["sub"]),
        national_id=_text(claims.get("SubjectNameID")),
        given_name=_text(claims.get("given_name")),
        family_name=_text(claims.get("family_name")),
        profession_code=_profession_code(claims.get("SubjectRefPro")),
        mailbox=mailbox.strip().lower(),
        role_label=_role_label(claims.get("SubjectRole")),
    )


def _profession_code(reference: object) -> str:
    """The first practice's profession code in SubjectRefPro (``exercices[]``)."""
    if isinstance(reference, dict):
        practices = reference.get("exercices")
        if isinstance(practices, list) and practices and isinstance(practices[0], dict):
            return _text(practices[0].get("codeProfession"), 8)
    return ""


def _role_label(roles: object) -> str:
    """The label of the first SubjectRole, an HL7-like ``code^oid^G15_code/...^label``:
    the provider's own wording, kept short and printable (it is shown as data)."""
    first = roles[0] if isinstance(roles, list) and roles else roles
    if not isinstance(first, str) or first.count("^") < 3:
        return ""
    label = first.rsplit("^", 1)[1].strip()
    return label[:60] if label.isprintable() else ""


def _text(value: object, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""
