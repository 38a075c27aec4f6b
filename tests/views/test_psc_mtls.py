"""Pro Santé Connect sign-in through the pages with mutual TLS (MSS_PSC_CLIENT_AUTH=
tls_client_auth): the whole chain with the webmail's certificate, and a wrong one told."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dev.psc import PscProvider
from dev.stack import Stack
from tests.conftest import PSC_ACCESS_TTL, MailUser, deliver, simple_mail, soup
from tests.psc_browser import (
    audit_entries,
    foreign_client_certificate,
    login_error,
    mtls_env,
    provider_redirect,
    sign_in_as,
)
from webmail.app import create_app
from webmail.auth.oidc_http import ClientCertificate
from webmail.settings import Settings


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "audit.log"


def _client(env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(
        create_app(Settings.from_env(env)), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        yield client


@pytest.fixture
def mtls_client(psc: PscProvider, env: dict[str, str], audit_file: Path) -> Iterator[TestClient]:
    yield from _client(mtls_env(psc, env, audit_file))


@pytest.fixture(params=["another-ca", "another-subject"])
def foreign_cert_client(
    request: pytest.FixtureRequest,
    psc: PscProvider,
    stack: Stack,
    env: dict[str, str],
    audit_file: Path,
    tmp_path: Path,
) -> Iterator[TestClient]:
    """The webmail with a certificate the provider must refuse: from a CA it does not
    trust, or from the stack's CA but for another subject than the one registered."""
    if request.param == "another-ca":
        certificate = foreign_client_certificate(tmp_path)
    else:
        certificate = ClientCertificate(tmp_path / "c.pem", tmp_path / "c.key")
        stack.issue_client_certificate(
            certificate.cert, certificate.key, "/O=MSS webmail development/CN=someone-else"
        )
    yield from _client(
        {
            **mtls_env(psc, env, audit_file),
            "MSS_PSC_CLIENT_CERT": str(certificate.cert),
            "MSS_PSC_CLIENT_KEY": str(certificate.key),
        }
    )


def test_sign_in_read_and_refresh_with_mutual_tls(
    mtls_client: TestClient, psc: PscProvider, stack: Stack, user: MailUser
) -> None:
    sign_in_as(mtls_client, psc, user.address)
    time.sleep(PSC_ACCESS_TTL + 1)
    deliver(stack, user, simple_mail("chu@chu-demo.mssante.test", user.address, "Par mTLS"))
    page = mtls_client.get("/mail")
    assert page.status_code == 200, page.text
    assert [row.get_text(strip=True) for row in soup(page.text).select(".subject")] == ["Par mTLS"]
    grants = psc.grants(user.address)
    assert grants["authorization_code@mtls"] == 1 and grants["refresh_token@mtls"] >= 1
    assert not [key for key in grants if key.endswith("@main")]


def test_a_certificate_the_provider_does_not_trust_is_told_and_audited(
    foreign_cert_client: TestClient, psc: PscProvider, user: MailUser, audit_file: Path
) -> None:
    refused = foreign_cert_client.get(provider_redirect(foreign_cert_client, psc, user.address))
    assert refused.status_code == 503
    assert "ne reconnaît pas ce webmail" in login_error(refused.text)
    last = audit_entries(audit_file)[-1]
    assert (last["action"], last["result"]) == ("psc_login", "refused")
    assert last["target"] == {"reason": "token_invalid_client"}
    assert foreign_cert_client.get("/mail").status_code == 303
    assert "PRIVATE KEY" not in audit_file.read_text()
