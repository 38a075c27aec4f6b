"""Pro Santé Connect sign-in through the web pages, against the real provider, Dovecot and
Postfix: to the provider and back, then reading and sending with the token (XOAUTH2)."""

from __future__ import annotations

import base64
import copy
import email
import email.policy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from starlette.testclient import TestClient

from dev.psc import PscProvider
from dev.stack import Stack
from tests.conftest import (
    PSC_ACCESS_TTL,
    MailUser,
    csrf_token,
    deliver,
    simple_mail,
    soup,
    wait_for_messages,
)
from tests.psc_browser import (
    audit_entries,
    forged,
    login_error,
    provider_client,
    provider_redirect,
    psc_env,
    sign_in_as,
    tamper_payload,
)
from webmail.app import create_app
from webmail.auth.oidc import PscClient
from webmail.auth.psc_tokens import REFRESH_MARGIN_SECONDS
from webmail.auth.sessions import Session, SessionStore
from webmail.settings import Settings


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


def test_the_login_page_offers_psc_only_when_enabled(
    psc_client: TestClient, client: TestClient
) -> None:
    button = soup(psc_client.get("/login").text).select_one("#psc-login")
    assert button is not None and button["href"] == "/login/psc"
    assert button.get_text(strip=True) == "Se connecter avec Pro Santé Connect"
    # A real navigation: htmx must not fetch the provider's page into this one.
    assert button.find_parent(attrs={"hx-boost": "false"}) is not None
    assert soup(client.get("/login").text).select_one("#psc-login") is None
    assert client.get("/login/psc").status_code == 404


def test_sign_in_then_read_and_send_over_xoauth2(
    psc_client: TestClient,
    psc: PscProvider,
    stack: Stack,
    user: MailUser,
    other_user: MailUser,
    audit_file: Path,
) -> None:
    deliver(stack, user, simple_mail("chu@chu-demo.mssante.test", user.address, "Résultats"))
    sign_in_as(psc_client, psc, user.address)
    page = soup(psc_client.get("/mail").text)
    assert [row.get_text(" ", strip=True) for row in page.select(".subject")] == ["Résultats"]
    identity = page.select_one("#identity")
    assert identity is not None
    family_name = user.address.split("@")[0].upper()
    assert identity.get_text(strip=True) == f"Dominique {family_name}, Infirmier"
    login = [e for e in audit_entries(audit_file) if e["action"] == "login"][-1]
    assert login["account"] == user.address
    target = login["target"]
    assert isinstance(target, dict) and target["method"] == "psc"
    assert str(target["national_id"]).startswith("8")

    sent = psc_client.post(
        "/compose",
        data={
            "csrf_token": csrf_token(psc_client),
            "mode": "new",
            "action": "send",
            "to": other_user.address,
            "subject": "Envoyé par jeton",
            "body": "Bonjour",
        },
    )
    assert sent.status_code == 303, sent.text
    received = email.message_from_bytes(
        wait_for_messages(stack, other_user)[0], policy=email.policy.default
    )
    assert received["Subject"] == "Envoyé par jeton"
    assert wait_for_messages(stack, user, "Sent")


def test_no_second_factor_after_psc(
    psc_client: TestClient, psc: PscProvider, user: MailUser
) -> None:
    sign_in_as(psc_client, psc, user.address)
    page = psc_client.get("/mail")
    assert page.status_code == 200
    assert page.template.name == "pages/mailbox.html"  # type: ignore[attr-defined]


def test_the_access_token_is_refreshed_silently(
    psc_client: TestClient, psc: PscProvider, stack: Stack, user: MailUser, audit_file: Path
) -> None:
    sign_in_as(psc_client, psc, user.address)
    # A new connection must be opened with a token that has expired meanwhile.
    time.sleep(PSC_ACCESS_TTL + 1)
    deliver(stack, user, simple_mail("chu@chu-demo.mssante.test", user.address, "Après"))
    assert PSC_ACCESS_TTL < REFRESH_MARGIN_SECONDS  # every request here refreshes
    page = psc_client.get("/mail")
    assert page.status_code == 200, page.text
    assert [row.get_text(strip=True) for row in soup(page.text).select(".subject")] == ["Après"]
    assert not [e for e in audit_entries(audit_file) if e["action"] == "psc_refresh"]


def test_a_failed_refresh_ends_the_session(
    psc_client: TestClient, psc: PscProvider, user: MailUser, audit_file: Path
) -> None:
    sign_in_as(psc_client, psc, user.address)
    # The provider forgets every grant when it restarts: the refresh token is then unknown.
    psc.start()
    page = psc_client.get("/mail")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?notice=expired"
    refresh = [e for e in audit_entries(audit_file) if e["action"] == "psc_refresh"]
    assert refresh[-1]["result"] == "refused"
    assert psc_client.get("/mail").headers["location"] == "/login"  # the cookie is forgotten


def test_a_replayed_answer_is_refused(
    psc_client: TestClient, psc: PscProvider, user: MailUser, audit_file: Path
) -> None:
    answer = provider_redirect(psc_client, psc, user.address)
    assert psc_client.get(answer).status_code == 303
    psc_client.cookies.clear()
    psc_client.get("/login/psc")  # a new pre-login cookie: the old answer is still spent
    again = psc_client.get(answer)
    assert again.status_code == 400
    assert "n'a pas pu être vérifiée" in login_error(again.text)
    assert audit_entries(audit_file)[-1]["target"] == {"reason": "state_unknown"}


def test_an_answer_in_another_browser_is_refused(
    psc_client: TestClient, psc: PscProvider, user: MailUser, audit_file: Path
) -> None:
    answer = provider_redirect(psc_client, psc, user.address)
    psc_client.cookies.clear()
    refused = psc_client.get(answer)
    assert refused.status_code == 400
    assert audit_entries(audit_file)[-1]["target"] == {"reason": "state_other_browser"}
    assert psc_client.get("/mail").status_code == 303


@pytest.mark.parametrize("state", ["forged", ""])
def test_a_wrong_state_is_refused(
    psc_client: TestClient, psc: PscProvider, user: MailUser, state: str
) -> None:
    answer = provider_redirect(psc_client, psc, user.address)
    query = parse_qs(urlsplit(answer).query)
    refused = psc_client.get(
        "/login/psc/callback", params={"code": query["code"][0], "state": state}
    )
    assert refused.status_code == 400
    assert login_error(refused.text)


def test_a_weaker_acr_is_refused(
    psc_client: TestClient, psc: PscProvider, user: MailUser, audit_file: Path
) -> None:
    refused = psc_client.get(provider_redirect(psc_client, psc, user.address, acr="eidas-faible"))
    assert refused.status_code == 401
    assert "n'a pas pu être vérifiée" in login_error(refused.text)
    assert audit_entries(audit_file)[-1]["target"] == {"reason": "id_token_acr"}


def test_a_refusal_at_the_provider_is_told(psc_client: TestClient, audit_file: Path) -> None:
    psc_client.get("/login/psc")
    refused = psc_client.get("/login/psc/callback", params={"error": "access_denied", "state": "x"})
    assert refused.status_code == 401
    assert "annulée ou refusée" in login_error(refused.text)
    assert audit_entries(audit_file)[-1]["target"] == {"reason": "provider_access_denied"}


def test_the_mail_server_refusing_the_token_is_told(
    psc_client: TestClient, psc: PscProvider, audit_file: Path
) -> None:
    refused = psc_client.get(provider_redirect(psc_client, psc, "899700000002"))
    assert refused.status_code == 401
    assert "a refusé votre identification Pro Santé Connect" in login_error(refused.text)
    last = audit_entries(audit_file)[-1]
    assert last["action"] == "psc_login" and last["result"] == "refused"
    assert last["target"] == {"reason": "imap_refused_token", "national_id": "899700000002"}


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"nonce": "another"}, "id_token_nonce"),
        ({"aud": "another-client"}, "id_token_aud"),
        ({"exp": int(time.time()) - 120}, "id_token_expired"),
        ({"acr": "eidas2"}, "id_token_acr"),
        ({"tamper": True}, "id_token_signature"),
    ],
)
def test_a_wrong_id_token_is_refused_with_a_message_and_an_audit_line(
    psc_client: TestClient,
    psc: PscProvider,
    user: MailUser,
    audit_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, Any],
    reason: str,
) -> None:
    """The provider's real answer, its ID token replaced on the way by one signed with the
    provider's key (or tampered with) where only the claim under test is wrong."""
    original = PscClient._token_request

    async def altered(self: PscClient, form: dict[str, str]) -> dict[str, Any]:
        answer = await original(self, form)
        claims = {**_claims_of(answer["id_token"]), **changes}
        if claims.pop("tamper", False):
            token = tamper_payload(answer["id_token"])
        else:
            token = forged(psc, **claims)
        return {**answer, "id_token": token}

    monkeypatch.setattr(PscClient, "_token_request", altered)
    refused = psc_client.get(provider_redirect(psc_client, psc, user.address))
    assert refused.status_code == 401
    assert "n'a pas pu être vérifiée" in login_error(refused.text)
    assert audit_entries(audit_file)[-1]["target"] == {"reason": reason}
    assert psc_client.get("/mail").status_code == 303


def test_logout_ends_the_pro_sante_connect_session_too(
    psc_client: TestClient, psc: PscProvider, user: MailUser, audit_file: Path
) -> None:
    with provider_client(psc) as browser:
        answer = provider_redirect(psc_client, psc, user.address, browser=browser)
        assert psc_client.get(answer).status_code == 303
        out = psc_client.post("/logout", data={"csrf_token": csrf_token(psc_client)})
        # A page that moves on by itself: a redirect from the form to another site would be
        # blocked by the CSP's form-action 'self'.
        assert out.status_code == 200
        refresh = soup(out.text).select_one('meta[http-equiv="refresh"]')
        link = soup(out.text).select_one("#psc-logout")
        assert refresh is not None and link is not None
        provider_logout = str(link["href"])
        assert str(refresh["content"]) == f"0;url={provider_logout}"
        query = parse_qs(urlsplit(provider_logout).query)
        assert provider_logout.startswith(psc.issuer + "/session/end?")
        assert query["post_logout_redirect_uri"] == ["http://127.0.0.1:8000/login/psc/logout"]
        assert query["id_token_hint"][0].count(".") == 2
        state = query["state"][0]
        assert len(state) >= 32
        # The provider asks the user to confirm, then sends the browser back with the state.
        confirm = soup(browser.get(provider_logout).text).select_one('form[id="op.logoutForm"]')
        assert confirm is not None
        xsrf = confirm.select_one("input[name=xsrf]")
        assert xsrf is not None
        back = browser.post(
            urljoin(provider_logout, str(confirm["action"])),
            data={"xsrf": str(xsrf["value"]), "logout": "yes"},
        )
        assert back.status_code in (302, 303), back.text
        returned = urlsplit(back.headers["location"])
        assert returned.path == "/login/psc/logout"
        assert parse_qs(returned.query)["state"] == [state]
        # The state checked, the login page says so.
        done = psc_client.get(f"{returned.path}?{returned.query}")
        assert done.status_code == 303 and done.headers["location"] == "/login?notice=logout"
        notice = soup(psc_client.get(done.headers["location"]).text).select_one(".alert-ok")
        assert notice is not None and notice.get_text(strip=True) == "Vous êtes déconnecté."
        # Once: the same answer again is not believed.
        again = psc_client.get(f"{returned.path}?{returned.query}")
        assert again.status_code == 400
        assert "n'a pas pu être confirmée" in login_error(again.text)
        assert audit_entries(audit_file)[-1]["target"] == {"reason": "state_unknown"}
        # Signed out there too: the next sign-in asks for the practitioner again.
        again = browser.get(str(psc_client.get("/login/psc").headers["location"]))
        while again.status_code in (302, 303):
            again = browser.get(urljoin(str(again.url), again.headers["location"]))
        assert soup(again.text).select_one("input[name=login]") is not None
    assert psc_client.get("/mail").status_code == 303


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?state=forged", "state_unknown"),
        ("", "state_missing"),
        ("?state=" + "x" * 500, "state_unknown"),
    ],
)
def test_a_logout_answer_without_our_state_is_not_confirmed(
    psc_client: TestClient, audit_file: Path, query: str, reason: str
) -> None:
    answer = psc_client.get("/login/psc/logout" + query)
    assert answer.status_code == 400
    assert "n'a pas pu être confirmée" in login_error(answer.text)
    assert soup(answer.text).select_one(".alert-ok") is None
    assert audit_entries(audit_file)[-1]["target"] == {"reason": reason}


def test_the_callback_writes_the_session_once_complete(
    psc_client: TestClient, psc: PscProvider, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = provider_redirect(psc_client, psc, user.address)
    written: list[Session] = []
    original = SessionStore._save

    async def counted(self: SessionStore, session: Session, *, must_exist: bool = False) -> None:
        written.append(copy.copy(session))
        await original(self, session, must_exist=must_exist)

    monkeypatch.setattr(SessionStore, "_save", counted)
    assert psc_client.get(answer).status_code == 303
    assert len(written) == 1
    session = written[0]
    assert session.method == "psc" and session.encrypted_tokens
    assert session.profession == "Infirmier" and session.display_name.startswith("Dominique ")
