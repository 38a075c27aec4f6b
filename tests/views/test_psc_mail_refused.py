"""The mail servers refusing a Pro Santé Connect token that the session took for valid
(revoked at the real provider), checked by the real Dovecot and Postfix: a message that
says so, a way back to PSC, status 401, and the text being written kept."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from starlette.testclient import TestClient

from dev.psc import PscProvider
from tests.conftest import MailUser, soup
from tests.psc_browser import audit_entries, login_error, psc_env, sign_in_as
from tests.views.forms import browser_form
from webmail.app import create_app
from webmail.auth import psc_tokens
from webmail.auth.sessions import SessionCookie
from webmail.mail.sasl import TOKEN_REFUSED
from webmail.settings import Settings

TEXT = {"subject": "Compte rendu", "body": "Patient revu ce jour :\nconstantes normales."}


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "audit.log"


@pytest.fixture
def psc_client(psc: PscProvider, env: dict[str, str], audit_file: Path) -> Iterator[TestClient]:
    settings = Settings.from_env(psc_env(psc, env, audit_file))
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        yield client


@pytest.fixture
def signed_in(
    psc_client: TestClient, psc: PscProvider, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> TestClient:
    """Signed in; the session's access token is no longer refreshed before use, so that it
    keeps taking a revoked one for valid."""
    sign_in_as(psc_client, psc, user.address)
    monkeypatch.setattr(psc_tokens, "REFRESH_MARGIN_SECONDS", -3600)
    return psc_client


@pytest.fixture
def revoked(signed_in: TestClient, psc: PscProvider) -> TestClient:
    """Signed in, then the session's access token revoked at the provider."""
    revoke(signed_in, psc)
    return signed_in


def revoke(client: TestClient, psc: PscProvider) -> None:
    token = _session_tokens(client).access_token
    context = ssl.create_default_context(cafile=str(psc.stack.ca_cert))
    revocation = httpx2.post(
        f"{psc.issuer}/token/revocation",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(psc.client_id, psc.client_secret),
        verify=context,
    )
    assert revocation.status_code == 200, revocation.text


def _session_tokens(client: TestClient) -> psc_tokens.Tokens:
    services = client.app.state.services  # type: ignore[attr-defined]
    cookie = SessionCookie.decode(client.cookies["mss_session"])

    async def read() -> psc_tokens.Tokens:
        session = await services.sessions.load(cookie)
        tokens = psc_tokens.unseal(services.sessions, session, cookie)
        assert tokens is not None
        return tokens

    return client.portal.call(read)  # type: ignore[union-attr]


def _drop_imap_connection(client: TestClient) -> None:
    """As after five idle minutes: the next request logs in to IMAP again."""
    services = client.app.state.services  # type: ignore[attr-defined]
    cookie = SessionCookie.decode(client.cookies["mss_session"])
    assert cookie is not None
    client.portal.call(services.pool.discard, cookie.id_hash)  # type: ignore[union-attr]


def test_imap_refusing_the_token_asks_to_sign_in_with_psc_again(
    revoked: TestClient, user: MailUser, audit_file: Path
) -> None:
    page = revoked.get("/mail")
    assert page.status_code == 401
    assert login_error(page.text) == TOKEN_REFUSED
    button = soup(page.text).select_one("#psc-login")
    assert button is not None and button["href"] == "/login/psc"
    last = audit_entries(audit_file)[-1]
    assert (last["action"], last["account"], last["result"]) == (
        "psc_mail_refused",
        user.address,
        "refused",
    )
    # The session is over, here and in Redis.
    assert "mss_session" not in revoked.cookies
    assert revoked.get("/mail").headers["location"] == "/login"


def test_an_htmx_request_is_sent_to_the_login_page_that_says_why(revoked: TestClient) -> None:
    answer = revoked.get("/mail", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"] == "/login?notice=psc_refused"
    notice = soup(revoked.get(answer.headers["HX-Redirect"]).text).select_one(".alert")
    assert notice is not None and notice.get_text(strip=True) == TOKEN_REFUSED


def test_a_draft_being_saved_is_given_back_with_a_link_to_psc(
    signed_in: TestClient, psc: PscProvider
) -> None:
    # The form was loaded before the token was refused; its connection has gone since.
    form = browser_form(signed_in.get("/compose").text, **TEXT, action="save")
    revoke(signed_in, psc)
    revoked = signed_in
    _drop_imap_connection(revoked)
    kept = revoked.post("/compose", data=form)
    assert kept.status_code == 401
    page = soup(kept.text)
    assert page.select_one("#kept-body").get_text() == TEXT["body"]  # type: ignore[union-attr]
    assert TEXT["subject"] in page.get_text()
    refused = page.select_one("#psc-refused")
    assert refused is not None and refused.get_text(strip=True) == TOKEN_REFUSED
    relogin = page.select_one('a[target="_blank"]')
    assert relogin is not None and relogin["href"] == "/login/psc"
    assert revoked.get("/mail").status_code == 303


def test_smtp_refusing_the_token_keeps_the_message_in_the_form(
    signed_in: TestClient, psc: PscProvider, other_user: MailUser
) -> None:
    # The IMAP connection opened before the refusal lives on; SMTP logs in afresh.
    assert signed_in.get("/mail").status_code == 200
    form = browser_form(signed_in.get("/compose").text, **TEXT, to=other_user.address)
    revoke(signed_in, psc)
    sent = signed_in.post("/compose", data=form)
    assert sent.status_code == 401
    page = soup(sent.text)
    alert = page.select_one(".alert-error")
    assert alert is not None and alert.get_text(" ", strip=True).startswith(TOKEN_REFUSED)
    assert page.select_one("textarea[name=body]").get_text() == TEXT["body"]  # type: ignore[union-attr]
    assert page.select_one("input[name=to]")["value"] == other_user.address  # type: ignore[index]
