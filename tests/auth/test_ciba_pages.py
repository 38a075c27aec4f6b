"""Sign-in from the phone through the web pages (webmail/views/psc_phone.py), against the
real PSC look-alike, its dev phone, Dovecot over XOAUTH2 and Redis."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from httpx2 import Response
from starlette.testclient import TestClient

from dev.psc import PscProvider
from dev.psc_phone import DevPhone
from dev.stack import Stack
from tests.conftest import PSC_REDIRECT_URI, MailUser, deliver, simple_mail, soup
from webmail.app import create_app
from webmail.auth import ciba
from webmail.auth.oidc_http import ProviderUnreachable
from webmail.settings import Settings
from webmail.views.psc_phone import PHONE_COOKIE

HTMX = {"HX-Request": "true"}

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "audit.log"


@pytest.fixture
def psc_env(psc: PscProvider, env: dict[str, str], audit_file: Path) -> dict[str, str]:
    return {
        **env,
        "MSS_AUDIT_LOG": str(audit_file),
        "MSS_PSC_ENABLED": "true",
        "MSS_PSC_ISSUER": psc.issuer,
        "MSS_PSC_CLIENT_ID": psc.client_id,
        "MSS_PSC_CLIENT_SECRET": psc.client_secret,
        "MSS_PSC_REDIRECT_URI": PSC_REDIRECT_URI,
    }


@pytest.fixture
def browsers(psc_env: dict[str, str]) -> Iterator[ClientFactory]:
    """Browsers of the webmail, each with its own cookies and, by default, its own network
    (the start limits count per network)."""
    opened: list[TestClient] = []

    def browser(ip: str | None = None, **changes: str) -> TestClient:
        address = ip or f"203.0.113.{secrets.randbelow(200) + 1}"
        client = TestClient(
            create_app(Settings.from_env({**psc_env, **changes})),
            base_url="http://127.0.0.1:8000",
            follow_redirects=False,
            client=(address, 50000),
        )
        opened.append(client.__enter__())
        return client

    yield browser
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def browser(browsers: ClientFactory) -> TestClient:
    return browsers()


@pytest.fixture
def phone(psc: PscProvider) -> DevPhone:
    return DevPhone(psc)


def practitioner(phone: DevPhone, user: MailUser, **knobs: int) -> str:
    nid = "8" + "".join(secrets.choice("0123456789") for _ in range(11))
    phone.register(nid, user.address, **knobs)
    return nid


def send_request(browser: TestClient, typed: str, **headers: str) -> Response:
    page = browser.get("/login/phone")
    assert page.status_code == 200, page.text
    token = soup(page.text).select_one("input[name=form_token]")
    assert token is not None
    return browser.post(
        "/login/phone",
        data={"national_id": typed, "form_token": str(token["value"])},
        headers=headers,
    )


def alert(response: Response) -> str:
    found = soup(response.text).select_one(".alert-error, .alert-warning")
    assert found is not None, response.text
    return found.get_text(" ", strip=True)


def audit_entries(audit_file: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in audit_file.read_text().splitlines()]


def test_the_login_page_offers_the_phone_beside_psc(browsers: ClientFactory) -> None:
    page = soup(browsers().get("/login").text)
    link = page.select_one("#psc-phone-login")
    assert link is not None and link["href"] == "/login/phone"
    assert link.get_text(strip=True) == "Se connecter avec mon téléphone (e-CPS)"
    assert link.find_parent(attrs={"hx-boost": "false"}) is not None
    assert page.select_one("#psc-login") is not None

    off = browsers(MSS_PSC_CIBA="off")
    assert soup(off.get("/login").text).select_one("#psc-phone-login") is None
    assert off.get("/login/phone").status_code == 404
    assert off.get("/login/phone/wait").status_code == 404


def test_without_psc_there_is_no_phone_sign_in(client: TestClient) -> None:
    assert soup(client.get("/login").text).select_one("#psc-phone-login") is None
    assert client.get("/login/phone").status_code == 404
    assert client.post("/login/phone", data={"national_id": "899700000001"}).status_code == 404


def test_the_form_asks_for_the_national_id_with_a_numeric_keyboard(browser: TestClient) -> None:
    field = soup(browser.get("/login/phone").text).select_one("input#national-id")
    assert field is not None
    assert field["name"] == "national_id" and field["inputmode"] == "numeric"
    assert field["autocomplete"] == "off"
    assert soup(browser.get("/login/phone").text).select_one("label[for=national-id]")


def test_approved_on_the_phone_the_page_signs_in_and_lists_the_inbox(
    browser: TestClient,
    phone: DevPhone,
    stack: Stack,
    user: MailUser,
    audit_file: Path,
) -> None:
    deliver(stack, user, simple_mail("chu@chu-demo.mssante.test", user.address, "Compte rendu"))
    nid = practitioner(phone, user)
    sent = send_request(browser, nid)
    assert sent.status_code == 303 and sent.headers["location"] == "/login/phone/wait"
    # The browser holds only an opaque pre-login id, never the request's auth_req_id.
    pre_login = browser.cookies.get(PHONE_COOKIE)
    assert pre_login and len(pre_login) >= 40

    waiting = browser.get("/login/phone/wait")
    assert waiting.status_code == 200
    page = soup(waiting.text)
    code = page.select_one("#binding-code")
    assert code is not None and code.get_text(strip=True) == phone.pending(nid).binding_message
    assert page.select_one("h1").get_text(strip=True) == (
        "Validez la demande dans l'application e-CPS"
    )
    status = page.select_one("#phone-status")
    assert status is not None and status["hx-trigger"] == "every 1.5s"
    assert status["hx-get"] == "/login/phone/wait"
    # Without script: the page refreshes itself, and "Vérifier" asks at once.
    assert page.select_one("noscript meta[http-equiv=refresh]")["content"] == "1.5"
    assert page.select_one("#phone-check")["href"] == "/login/phone/wait"
    assert page.select_one("form[action='/login/phone/cancel'] button")

    # htmx's poll gets the status alone while it waits.
    fragment = browser.get("/login/phone/wait", headers=HTMX)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["vary"]
    assert soup(fragment.text).select_one("html") is None
    assert soup(fragment.text).select_one("#binding-code") is not None

    phone.approve(phone.pending(nid))
    time.sleep(1.3)
    done = browser.get("/login/phone/wait", headers=HTMX)
    assert done.status_code == 200, done.text
    assert done.headers["HX-Redirect"] == "/mail"
    rows = soup(browser.get("/mail").text).select(".subject")
    assert [row.get_text(" ", strip=True) for row in rows] == ["Compte rendu"]

    login = [e for e in audit_entries(audit_file) if e["action"] == "login"][-1]
    assert login["account"] == user.address
    assert login["target"] == {"method": "psc", "national_id": nid, "flow": "ciba"}
    start = [e for e in audit_entries(audit_file) if e["action"] == "psc_phone_start"][-1]
    assert start["result"] == "ok" and start["target"] == {"national_id": nid}
    # The request opened one session: the pre-login id has nothing left to finish.
    again = browser.get("/login/phone/wait")
    assert again.status_code == 404


def test_without_script_the_reload_signs_in(
    browser: TestClient, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user)
    send_request(browser, nid)
    phone.approve(phone.pending(nid))
    done = browser.get("/login/phone/wait")
    assert done.status_code == 303 and done.headers["location"] == "/mail"
    assert browser.get("/mail").status_code == 200


def test_denied_on_the_phone_is_said_clearly(
    browser: TestClient, phone: DevPhone, user: MailUser, audit_file: Path
) -> None:
    nid = practitioner(phone, user)
    send_request(browser, nid)
    phone.deny(phone.pending(nid))
    denied = browser.get("/login/phone/wait", headers=HTMX)
    assert denied.status_code == 401
    assert alert(denied) == (
        "La demande a été refusée dans l'application e-CPS. Vous pouvez recommencer."
    )
    # The whole page is replaced, polling ends; the form is ready to send again.
    assert denied.headers["HX-Retarget"] == "body"
    assert soup(denied.text).select_one("#phone-status") is None
    assert soup(denied.text).select_one("input#national-id")["value"] == nid
    refusal = [e for e in audit_entries(audit_file) if e["action"] == "psc_login"][-1]
    assert refusal["result"] == "refused"
    assert refusal["target"] == {"reason": "access_denied", "national_id": nid, "flow": "ciba"}
    assert browser.get("/mail").headers["location"].startswith("/login")


def test_an_expired_request_is_said_clearly(
    browser: TestClient, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user, expires_in=2)
    send_request(browser, nid)
    time.sleep(2.2)
    expired = browser.get("/login/phone/wait")
    assert expired.status_code == 410
    assert alert(expired).startswith("La demande a expiré sans avoir été validée.")


def test_an_unknown_national_id_is_refused_without_more(
    browser: TestClient, phone: DevPhone
) -> None:
    nobody = "81" + "".join(secrets.choice("0123456789") for _ in range(10))
    refused = send_request(browser, nobody)
    assert refused.status_code == 400
    assert alert(refused) == (
        "Pro Santé Connect ne trouve pas d'e-CPS pour cet identifiant. Vérifiez le numéro, "
        "ou connectez-vous avec votre carte CPS."
    )
    assert PHONE_COOKIE not in browser.cookies


@pytest.mark.parametrize("typed", ["12345", "dr.martin@medecin.mssante.test", "<b>8997</b>"])
def test_a_malformed_id_keeps_what_was_typed(browser: TestClient, typed: str) -> None:
    refused = send_request(browser, typed)
    assert refused.status_code == 400
    assert alert(refused).startswith("Saisissez votre identifiant national")
    assert soup(refused.text).select_one("input#national-id")["value"] == typed


def test_a_forged_or_stale_form_is_refused(browser: TestClient, phone: DevPhone) -> None:
    no_token = browser.post("/login/phone", data={"national_id": "899700000001"})
    assert no_token.status_code == 403
    cross_site = send_request(browser, "899700000001", **{"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    assert soup(cross_site.text).select_one("input#national-id")["value"] == "899700000001"


def test_another_browser_cannot_finish_the_request(
    browsers: ClientFactory, phone: DevPhone, user: MailUser, other_user: MailUser
) -> None:
    """Each pre-login id sees its own request only: neither a browser without one nor a
    browser waiting for another practitioner gets this one's session."""
    owner, stranger, other = browsers(), browsers(), browsers()
    nid, other_nid = practitioner(phone, user), practitioner(phone, other_user)
    send_request(owner, nid)
    send_request(other, other_nid)
    phone.approve(phone.pending(nid))
    time.sleep(1.3)
    nothing = stranger.get("/login/phone/wait")
    assert nothing.status_code == 404
    assert alert(nothing).startswith("Aucune demande de connexion par téléphone")
    # A stolen pre-login id would do; a made-up one does not.
    stranger.cookies.set(PHONE_COOKIE, secrets.token_urlsafe(32), path="/login/phone")
    assert stranger.get("/login/phone/wait").status_code == 404
    assert other.get("/login/phone/wait").status_code == 200  # still waiting for its own
    assert stranger.get("/mail").status_code == 303 and other.get("/mail").status_code == 303
    done = owner.get("/login/phone/wait")
    assert done.status_code == 303 and done.headers["location"] == "/mail"


def test_cancel_forgets_the_request(browser: TestClient, phone: DevPhone, user: MailUser) -> None:
    nid = practitioner(phone, user)
    send_request(browser, nid)
    cancelled = browser.post("/login/phone/cancel")
    assert cancelled.status_code == 303 and cancelled.headers["location"] == "/login"
    phone.approve(phone.pending(nid))
    assert browser.get("/login/phone/wait").status_code == 404
    assert browser.get("/mail").status_code == 303


def test_a_new_request_replaces_the_one_waiting(
    browser: TestClient, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user)
    send_request(browser, nid)
    first = phone.pending(nid)
    send_request(browser, nid)
    phone.approve(first)  # the old request, approved late
    time.sleep(1.3)
    waiting = browser.get("/login/phone/wait")
    assert waiting.status_code == 200 and soup(waiting.text).select_one("#binding-code")


def test_too_many_requests_for_one_id_wait_ten_minutes(
    browsers: ClientFactory, phone: DevPhone, user: MailUser, audit_file: Path
) -> None:
    nid = practitioner(phone, user)
    for _ in range(ciba.STARTS_PER_NATIONAL_ID):
        assert send_request(browsers(), nid).status_code == 303
    refused = send_request(browsers(), nid)
    assert refused.status_code == 429
    assert alert(refused) == (
        "Trop de demandes ont été envoyées pour cet identifiant. Réessayez dans dix minutes."
    )
    locked = [e for e in audit_entries(audit_file) if e["action"] == "psc_phone_start"][-1]
    assert locked["result"] == "locked"
    assert locked["target"] == {"national_id": nid, "reason": "too_many_per_national_id"}


def test_too_many_requests_from_one_network(browsers: ClientFactory, phone: DevPhone) -> None:
    same_network = browsers(ip="198.18.7.7")
    for _ in range(ciba.STARTS_PER_NETWORK):
        nobody = "81" + "".join(secrets.choice("0123456789") for _ in range(10))
        assert send_request(same_network, nobody).status_code == 400
    refused = send_request(same_network, "899700000001")
    assert refused.status_code == 429
    assert alert(refused).startswith("Trop de connexions par Pro Santé Connect")


def test_an_unreachable_provider_gives_a_clear_503(browsers: ClientFactory) -> None:
    dead = browsers(
        MSS_PSC_DISCOVERY_URL="https://127.0.0.1:9/.well-known/wallet-openid-configuration"
    )
    page = dead.get("/login/phone")
    assert page.status_code == 503
    assert alert(page).startswith("Pro Santé Connect ne répond pas.")
    # The login page still opens, offering the phone until PSC says otherwise.
    assert dead.get("/login").status_code == 200


def test_a_mailbox_that_refuses_the_token_is_said_clearly(
    browser: TestClient, phone: DevPhone, audit_file: Path
) -> None:
    """The demo practitioner whose tokens name another mailbox: approved on the phone, then
    refused by the IMAP server, which decides."""
    send_request(browser, "899700000002")
    phone.approve(phone.pending("899700000002"))
    refused = browser.get("/login/phone/wait", headers=HTMX)
    assert refused.status_code == 401
    assert alert(refused).startswith("Le serveur de messagerie a refusé votre identification")
    assert refused.headers["HX-Retarget"] == "body"
    assert PHONE_COOKIE not in browser.cookies
    line = [e for e in audit_entries(audit_file) if e["action"] == "psc_login"][-1]
    assert line["target"]["reason"] == "imap_refused_token"  # type: ignore[index]


def test_psc_silent_while_waiting_keeps_the_page_waiting(
    browser: TestClient, phone: DevPhone, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    nid = practitioner(phone, user)
    send_request(browser, nid)
    http = browser.app.state.psc_phone.psc._http  # type: ignore[attr-defined]

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise ProviderUnreachable("timed out")

    monkeypatch.setattr(http, "post_form", unreachable)
    silent = browser.get("/login/phone/wait", headers=HTMX)
    assert silent.status_code == 503
    assert alert(silent) == (
        "Pro Santé Connect ne répond pas pour le moment. La page réessaie toute seule."
    )
    # Still the status, still polling, the code still shown.
    status = soup(silent.text).select_one("#phone-status[hx-trigger]")
    assert status is not None and status.select_one("#binding-code")
    monkeypatch.undo()
    phone.approve(phone.pending(nid))
    time.sleep(1.3)
    assert browser.get("/login/phone/wait").headers["location"] == "/mail"


def test_reloading_the_page_fast_does_not_hammer_psc(
    browser: TestClient, phone: DevPhone, user: MailUser
) -> None:
    nid = practitioner(phone, user)
    send_request(browser, nid)
    began = time.monotonic()
    answers = [browser.get("/login/phone/wait", headers=HTMX).status_code for _ in range(40)]
    elapsed = time.monotonic() - began
    assert set(answers) == {200}
    assert 1 <= phone.pending(nid).polls <= 1 + int(elapsed / (1 + ciba.POLL_MARGIN_SECONDS))
