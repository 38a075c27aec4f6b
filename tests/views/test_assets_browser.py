"""In Chromium at phone size: signed-in pages ask only for hashed static names, and the one
script they load works (htmx and the app's scripts, in order, under the strict policy)."""

from __future__ import annotations

import urllib.parse

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail
from tests.test_browser import browser, phone, server, sign_in
from webmail.assets import HASHED_NAME

pytestmark = pytest.mark.browser
__all__ = ["browser", "phone", "server"]  # fixtures, shared with the browser tests


def test_signed_in_pages_ask_only_for_hashed_static_names(
    server: str, phone: object, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Bilan"))
    page = phone
    sign_in(page, server, user)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))  # type: ignore[attr-defined]
    page.goto(server + "/mail")  # type: ignore[attr-defined]
    page.locator("li.row a").first.tap()  # type: ignore[attr-defined]
    page.wait_for_url("**/mail/message?**")  # type: ignore[attr-defined]
    page.goto(server + "/compose")  # type: ignore[attr-defined]
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
    static = [
        urllib.parse.urlsplit(url).path
        for url in asked
        if urllib.parse.urlsplit(url).path.startswith("/static/")
    ]
    assert any(path.endswith(".js") for path in static)
    unhashed = [path for path in static if not HASHED_NAME.match(path.rsplit("/", 1)[-1])]
    assert unhashed == []
    # The bundle ran whole: htmx, then the app's scripts that rely on it.
    assert page.evaluate("() => typeof htmx.ajax") == "function"  # type: ignore[attr-defined]
    csp = [p for p in page.problems if "Content Security Policy" in p]  # type: ignore[attr-defined]
    assert csp == []
    assert page.problems == []  # type: ignore[attr-defined]
