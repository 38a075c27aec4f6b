"""Login and logout against the real Dovecot and Redis."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import MailUser, form_value, login, post_password, soup


def test_login_page_is_french_and_not_cached(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    html = soup(page.text)
    assert html.find("html")["lang"] == "fr"
    assert html.find("button", attrs={"type": "submit"}).get_text(strip=True) == "Se connecter"
    assert page.headers["cache-control"] == "no-store"


def test_login_opens_the_inbox(client: TestClient, user: MailUser) -> None:
    login(client, user)
    inbox = client.get("/mail")
    assert inbox.status_code == 200
    assert inbox.template.name == "pages/mailbox.html"
    assert inbox.context["folder"] == "INBOX"
    assert user.address in inbox.text


def test_session_cookie_is_httponly_and_samesite(client: TestClient, user: MailUser) -> None:
    response = post_password(client, user.address, user.password)
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("mss_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert user.password not in cookie


def test_wrong_password_gives_the_form_again(client: TestClient, user: MailUser) -> None:
    response = post_password(client, user.address, "not-the-password")
    assert response.status_code == 401
    alert = soup(response.text).find(attrs={"role": "alert"})
    assert alert.get_text(strip=True) == "Adresse ou mot de passe incorrect."
    assert form_value(response.text, "address") == user.address
    assert "mss_session=" not in response.headers.get("set-cookie", "")


def test_unknown_mailbox_gets_the_same_answer_as_a_wrong_password(client: TestClient) -> None:
    response = post_password(client, "nobody-here@medecin.mssante.test", "whatever-1234")
    assert response.status_code == 401
    assert soup(response.text).find(attrs={"role": "alert"}).get_text(strip=True) == (
        "Adresse ou mot de passe incorrect."
    )


def test_login_without_the_form_token_is_refused(client: TestClient, user: MailUser) -> None:
    client.get("/login")
    response = client.post(
        "/login", data={"address": user.address, "password": user.password, "login_token": "forged"}
    )
    assert response.status_code == 403
    assert "mss_session=" not in response.headers.get("set-cookie", "")


def test_login_from_another_site_is_refused(client: TestClient, user: MailUser) -> None:
    response = post_password(
        client, user.address, user.password, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403


def test_pages_need_a_session_and_a_first_visit_is_not_told_it_expired(
    client: TestClient,
) -> None:
    for path in ("/", "/mail"):
        response = client.get(path, follow_redirects=True)
        assert response.url.path == "/login" and not response.url.query
        assert soup(response.text).select_one(".alert") is None


def test_an_expired_session_is_told_so_once(client: TestClient) -> None:
    client.cookies.set("mss_session", "expired-or-unknown.session", domain="127.0.0.1")
    response = client.get("/mail")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?notice=expired"
    assert client.get("/mail").headers["location"] == "/login"  # the cookie was forgotten


def test_expired_session_in_htmx_request_redirects_the_whole_page(client: TestClient) -> None:
    client.cookies.set("mss_session", "expired-or-unknown.session")
    response = client.get("/mail?folder=INBOX&page=2", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == "/login?notice=expired"


def test_logout_ends_the_session_on_the_server(client: TestClient, user: MailUser) -> None:
    login(client, user)
    cookie = client.cookies.get("mss_session")
    token = form_value(client.get("/compose").text, "csrf_token")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?notice=logout"
    assert "Clear-Site-Data" in response.headers
    # Replaying the old cookie must not work: the session is gone from Redis.
    client.cookies.set("mss_session", cookie)
    assert client.get("/mail").status_code == 303


def test_english_is_available(client: TestClient) -> None:
    response = client.get("/language?set=en&next=/login")
    assert response.status_code == 303
    page = client.get("/login")
    assert soup(page.text).find("html")["lang"] == "en"
    assert (
        soup(page.text).find("button", attrs={"type": "submit"}).get_text(strip=True) == "Sign in"
    )


def test_language_switch_does_not_redirect_elsewhere(client: TestClient) -> None:
    response = client.get("/language?set=en&next=//evil.example/")
    assert response.headers["location"] == "/login"


def test_over_tls_the_session_cookie_is_host_prefixed_and_secure(
    env: dict[str, str], user: MailUser
) -> None:
    from tests.conftest import login as full_login
    from webmail.app import create_app
    from webmail.settings import Settings

    settings = Settings.from_env({**env, "MSS_COOKIE_SECURE": "true"})
    with TestClient(
        create_app(settings), base_url="https://webmail.example.mssante.fr", follow_redirects=False
    ) as client:
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "address": user.address,
                "password": user.password,
                "login_token": form_value(page.text, "login_token"),
            },
        )
        cookie = next(
            h
            for h in response.headers.get_list("set-cookie")
            if h.startswith("__Host-mss_session=")
        )
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
        client.cookies.clear()
        full_login(client, user)
        assert client.get("/mail").status_code == 200
