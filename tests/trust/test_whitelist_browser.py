"""In Chromium: the recipients' marks follow the fields as they change, and a send outside
the trust space comes back refused with the text in place."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from dev.env import webmail_env
from dev.stack import Stack
from tests.conftest import MailUser, new_user
from tests.served import served_webmail
from tests.test_browser import browser, phone, sign_in  # noqa: F401 (fixtures)
from tests.trust.samples import OUTSIDE_DOMAIN, SAMPLE

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def trusted_server(stack: Stack) -> Iterator[str]:
    with served_webmail(webmail_env(stack, MSS_TRUST_WHITELIST=str(SAMPLE))) as (url, _port):
        yield url


def test_recipients_are_marked_while_typing(
    trusted_server: str,
    phone: object,  # noqa: F811 (the fixture)
    stack: Stack,
    user: MailUser,
    other_user: MailUser,
) -> None:
    page = phone
    marked: list[dict[str, list[str]]] = []
    page.on(  # type: ignore[attr-defined]
        "request",
        lambda request: (
            marked.append(parse_qs(request.post_data or ""))
            if request.url.endswith("/compose/recipients")
            else None
        ),
    )
    sign_in(page, trusted_server, user)
    page.goto(trusted_server + "/compose")  # type: ignore[attr-defined]
    stranger = f"dr.x@{OUTSIDE_DOMAIN}"
    page.fill("#body", "Kaliémie à 6,2 : à contrôler.")  # type: ignore[attr-defined]
    page.fill("#to", f"{other_user.address}, {stranger}")  # type: ignore[attr-defined]
    page.press("#to", "Tab")  # type: ignore[attr-defined]
    outside = page.locator("#recipient-trust .trust-outside-address")  # type: ignore[attr-defined]
    expect(outside).to_have_count(1)
    expect(outside).to_contain_text("Hors espace de confiance")
    expect(outside).to_contain_text(stranger)
    # Only the recipient fields travel, never the text being written.
    assert marked and set(marked[-1]) <= {"to", "cc", "bcc"} and "body" not in marked[-1]

    page.fill("#to", other_user.address)  # type: ignore[attr-defined]
    page.press("#to", "Tab")  # type: ignore[attr-defined]
    expect(page.locator("#recipient-trust .trust-inside")).to_be_visible()  # type: ignore[attr-defined]
    expect(outside).to_have_count(0)

    # Sent anyway: the server refuses, and the page comes back with the text.
    page.fill("#to", stranger)  # type: ignore[attr-defined]
    page.click("button[value=send]")  # type: ignore[attr-defined]
    expect(page.locator(".alert-error")).to_contain_text("hors de l'espace de confiance")  # type: ignore[attr-defined]
    assert page.input_value("#body") == "Kaliémie à 6,2 : à contrôler."  # type: ignore[attr-defined]
    expect(outside).to_have_count(1)
    # The 422 itself is logged as a failed load; nothing else went wrong in the page.
    problems = [p for p in page.problems if not p.startswith("Failed to load resource")]  # type: ignore[attr-defined]
    assert problems == []


def test_without_javascript_the_marks_come_with_the_page(
    trusted_server: str,
    phone: object,  # noqa: F811 (the fixture)
    stack: Stack,
) -> None:
    colleague = new_user(stack)
    page = phone
    sign_in(page, trusted_server, colleague)
    page.route("**/static/htmx.min.js", lambda route: route.abort())  # type: ignore[attr-defined]
    page.goto(trusted_server + f"/compose?to=x@{OUTSIDE_DOMAIN}")  # type: ignore[attr-defined]
    expect(page.locator("#recipient-trust .trust-outside-address")).to_have_count(1)  # type: ignore[attr-defined]
