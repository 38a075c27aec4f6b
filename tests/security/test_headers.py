"""Security headers on every answer, including errors."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from tests.conftest import MailUser, csrf_token, login, soup
from tests.views.test_compression_csrf import unmask
from webmail.app import create_app
from webmail.settings import Settings
from webmail.views import mailbox as mailbox_view


@pytest.mark.parametrize("path", ["/login", "/mail", "/nowhere", "/static/app.css"])
def test_headers_everywhere(client: TestClient, path: str) -> None:
    response = client.get(path)
    csp = response.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in response.headers["permissions-policy"]


def test_pages_are_never_cached_but_static_files_may_be(client: TestClient) -> None:
    assert client.get("/login").headers["cache-control"] == "no-store"
    assert client.get("/static/app.css").headers.get("cache-control") != "no-store"


def test_logged_in_pages_are_not_cached(logged_in: TestClient) -> None:
    for path in ("/mail", "/mail/folders", "/compose"):
        assert logged_in.get(path).headers["cache-control"] == "no-store"


def test_no_inline_script_in_pages(logged_in: TestClient) -> None:
    from tests.conftest import soup

    for path in ("/mail", "/compose", "/mail/folders"):
        page = soup(logged_in.get(path).text)
        for script in page.find_all("script"):
            assert script.get("src", "").startswith("/static/"), path
            assert not script.get_text(strip=True)
        for tag in page.find_all(True):
            assert not any(name.startswith("on") for name in tag.attrs), (path, tag.name)
            assert "style" not in tag.attrs, (path, tag.name)


def test_htmx_never_keeps_pages_in_browser_storage(client: TestClient) -> None:
    import json

    from tests.conftest import soup

    meta = soup(client.get("/login").text).find("meta", attrs={"name": "htmx-config"})
    assert json.loads(meta["content"])["historyCacheSize"] == 0


def test_unexpected_error_page_is_as_protected_as_any_page(
    settings: Settings, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starlette renders the last-resort 500 outside our middleware: the headers must follow."""

    def broken(*args: object) -> str:
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(mailbox_view, "_label", broken)
    with TestClient(
        create_app(settings), follow_redirects=False, raise_server_exceptions=False
    ) as client:
        login(client, user)
        token = csrf_token(client)
        response = client.get("/mail")
    assert response.status_code == 500
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    page = soup(response.text)
    assert "inattendue" in page.find("main").find("p").get_text()
    assert "secret-internal-detail" not in response.text and "Traceback" not in response.text
    # The reason this matters: the page carries the session's CSRF token (masked afresh).
    shown = json.loads(page.body["hx-headers"])["X-CSRF-Token"]
    assert unmask(shown) == unmask(token)
