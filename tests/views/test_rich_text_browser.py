"""Chromium at phone size: "Mise en forme", bold and a list typed, sent as text and HTML;
markup inserted into the editor the way a paste does never travels."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dev.env import webmail_env
from dev.stack import Stack
from tests.conftest import MailUser, soup, wait_for_messages
from tests.served import served_webmail
from tests.test_browser import browser, no_horizontal_scroll, phone, sign_in
from tests.views.forms import parse
from tests.views.test_drafts_open import drafts_uids
from tests.views.test_rich_text import FORBIDDEN, content, parts

pytestmark = pytest.mark.browser
__all__ = ["browser", "phone"]  # fixtures, shared with the browser tests


@pytest.fixture(scope="module")
def rich_server(stack: Stack) -> Iterator[str]:
    with served_webmail(webmail_env(stack, MSS_UNDO_SEND_SECONDS="0")) as (url, _port):
        yield url


def start_rich(page: object, server: str, to: str, subject: str) -> None:
    page.goto(server + "/compose")  # type: ignore[attr-defined]
    page.fill("#to", to)  # type: ignore[attr-defined]
    page.fill("#subject", subject)  # type: ignore[attr-defined]
    assert page.locator(".rich-editor").count() == 1  # type: ignore[attr-defined]
    assert not page.locator(".rich-editor").is_visible()  # type: ignore[attr-defined]
    page.locator(".rich-toggle").tap()  # type: ignore[attr-defined]
    assert page.locator(".rich-area").is_visible()  # type: ignore[attr-defined]
    assert not page.locator("#body").is_visible()  # type: ignore[attr-defined]


def test_type_bold_and_a_list_then_send_both_parts(
    rich_server: str, phone: object, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    page = phone
    sign_in(page, rich_server, user)
    start_rich(page, rich_server, other_user.address, "Compte rendu mis en forme")
    area = page.locator(".rich-area")  # type: ignore[attr-defined]
    area.tap()
    page.keyboard.type("Bonjour ")  # type: ignore[attr-defined]
    page.locator("button[data-command=bold]").tap()  # type: ignore[attr-defined]
    page.keyboard.type("Docteur")  # type: ignore[attr-defined]
    page.locator("button[data-command=bold]").tap()  # type: ignore[attr-defined]
    page.keyboard.type(",")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    page.locator("button[data-command=insertUnorderedList]").tap()  # type: ignore[attr-defined]
    page.keyboard.type("Un")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    page.keyboard.type("Deux")  # type: ignore[attr-defined]
    assert no_horizontal_scroll(page)
    page.click("button[value=send]")  # type: ignore[attr-defined]
    page.wait_for_url("**/mail?**")  # type: ignore[attr-defined]

    [received] = wait_for_messages(stack, other_user)
    message = parse(received)
    assert parts(message) == ["multipart/alternative", "text/plain", "text/html"]
    html = soup(content(message, "html"))
    assert [b.get_text() for b in html.select("b, strong")] == ["Docteur"]
    assert [li.get_text() for li in html.select("ul li")] == ["Un", "Deux"]
    text = content(message, "plain")
    assert text.startswith("Bonjour Docteur,")
    assert "- Un\n- Deux" in text
    csp_violations = [p for p in page.problems if "Content Security Policy" in p]  # type: ignore[attr-defined]
    assert csp_violations == []


HOSTILE = (
    '<p onclick="steal()">Bonjour <b>Docteur</b></p>'
    '<img src="https://pisteur.example/open.png" onerror="steal()">'
    '<a href="javascript:steal()">ici</a>'
    '<span style="background:url(https://pisteur.example/p.png)">fond</span>'
)


def test_pasted_markup_never_travels_and_the_draft_reopens_formatted(
    rich_server: str, phone: object, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    page = phone
    sign_in(page, rich_server, user)
    start_rich(page, rich_server, other_user.address, "Collé")
    page.locator(".rich-area").tap()  # type: ignore[attr-defined]
    # What a paste does: the browser inserts the clipboard's HTML at the caret.
    page.evaluate("html => document.execCommand('insertHTML', false, html)", HOSTILE)  # type: ignore[attr-defined]
    page.click("button[value=save]")  # type: ignore[attr-defined]
    page.wait_for_url("**/mail?**")  # type: ignore[attr-defined]
    [uid] = drafts_uids(stack, user)
    page.goto(f"{rich_server}/compose/draft?folder=Drafts&uid={uid}")  # type: ignore[attr-defined]
    # Reopened in its mode: the editor, with the bold kept and nothing else.
    assert page.locator(".rich-area").is_visible()  # type: ignore[attr-defined]
    assert page.locator(".rich-toggle input").is_checked()  # type: ignore[attr-defined]
    markup = page.locator(".rich-area").inner_html()  # type: ignore[attr-defined]
    assert "<b>Docteur</b>" in markup
    for word in FORBIDDEN:
        assert word not in markup.lower(), word
    page.click("button[value=send]")  # type: ignore[attr-defined]
    page.wait_for_url("**/mail?**")  # type: ignore[attr-defined]
    [received] = wait_for_messages(stack, other_user)
    for word in FORBIDDEN:
        assert word.encode() not in received.lower(), word
    message = parse(received)
    assert "Bonjour Docteur" in content(message, "plain")
    assert drafts_uids(stack, user) == []
