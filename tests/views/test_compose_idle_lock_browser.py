"""Chromium at phone size: before the idle lock ends the session, the compose page keeps
its text in Drafts, posting to the form's own address (the buttons named "action" shadow
``form.action``)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from dev.env import webmail_env
from dev.stack import Stack
from tests.conftest import MailUser
from tests.served import served_webmail
from tests.test_browser import browser, phone, sign_in
from tests.views.test_drafts_open import drafts_uids

pytestmark = pytest.mark.browser
__all__ = ["browser", "phone"]  # fixtures, shared with the browser tests


@pytest.fixture(scope="module")
def short_idle_server(stack: Stack) -> Iterator[str]:
    # A one-minute idle lock: the warning, and the save, come 5 s after the page loads.
    env = webmail_env(stack, MSS_SESSION_IDLE_MINUTES="1", MSS_UNDO_SEND_SECONDS="0")
    with served_webmail(env) as (url, _port):
        yield url


def test_the_idle_warning_saves_the_text_to_drafts(
    short_idle_server: str, phone: object, stack: Stack, user: MailUser
) -> None:
    page = phone
    sign_in(page, short_idle_server, user)
    posted: list[str] = []
    page.on(
        "request", lambda r: posted.append(urlsplit(r.url).path) if r.method == "POST" else None
    )  # type: ignore[attr-defined]
    page.goto(short_idle_server + "/compose")  # type: ignore[attr-defined]
    page.fill("#subject", "Avant le verrouillage")  # type: ignore[attr-defined]
    with page.expect_response(  # type: ignore[attr-defined]
        lambda r: r.request.method == "POST" and urlsplit(r.url).path == "/compose",
        timeout=9_000,  # before the autosave's own 10 s
    ) as saved:
        page.fill("#body", "Texte à ne pas perdre.")  # type: ignore[attr-defined]
    assert saved.value.status == 303
    page.locator(".idle-warning").wait_for(state="visible")  # type: ignore[attr-defined]
    assert "/compose/autosave" not in posted  # the idle save, not the autosave
    assert not any("object" in path for path in posted), posted
    assert len(drafts_uids(stack, user)) == 1
