"""The layout in Chromium: the split view on a tablet and a desktop, separate screens on a
phone, the action bar within the thumb's reach, no horizontal scrolling."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from dev.stack import Stack
from tests.conftest import MailUser, deliver, imap_for, simple_mail, wait_for_messages
from tests.test_browser import browser, server, sign_in
from tests.views.test_events_browser import wait_for_watcher

pytestmark = pytest.mark.browser
__all__ = ["browser", "server"]  # fixtures, shared with the browser tests

TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def new_page(browser: object, viewport: dict[str, int], **options: object) -> Page:
    touch = viewport["width"] < 1000
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport=viewport,
        has_touch=touch,
        is_mobile=viewport["width"] < 768,
        locale="fr-FR",
        **options,
    )
    page: Page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems  # type: ignore[attr-defined]
    return page


@pytest.fixture
def pages(browser: object) -> Iterator[list[Page]]:
    opened: list[Page] = []
    yield opened
    for page in opened:
        page.context.close()


def append(stack: Stack, user: MailUser, count: int) -> None:
    """``count`` messages, "Message 00" the oldest: the list shows the last first."""
    imap = imap_for(stack, user)
    try:
        for n in range(count):
            message = simple_mail(
                "secretariat@chu-demo.mssante.test", user.address, f"Message {n:02d}"
            )
            del message["Date"]
            message["Date"] = f"Tue, 24 Nov 2026 {8 + n // 60:02d}:{n % 60:02d}:00 +0100"
            assert imap.append("INBOX", None, None, message.as_bytes())[0] == "OK"
    finally:
        imap.logout()


def wide_html(stack: Stack, user: MailUser) -> None:
    message = EmailMessage()
    message["From"] = "labo@chu-demo.mssante.test"
    message["To"] = user.address
    message["Subject"] = "Résultats en tableau"
    message["Date"] = "Wed, 25 Nov 2026 09:00:00 +0100"
    message.set_content("Résultats")
    cells = "".join(f"<td style='white-space:nowrap'>Valeur-{n}-normale</td>" for n in range(30))
    message.add_alternative(
        f"<html><body><table width='1400' style='width:1400px'><tr>{cells}</tr></table>"
        f"<p>{'x' * 300}</p><pre>{'ligne très longue ' * 40}</pre></body></html>",
        subtype="html",
    )
    imap = imap_for(stack, user)
    try:
        assert imap.append("INBOX", None, None, message.as_bytes())[0] == "OK"
    finally:
        imap.logout()


def signed_in(
    browser: object, pages: list[Page], server: str, user: MailUser, viewport: dict[str, int]
) -> Page:
    page = new_page(browser, viewport)
    pages.append(page)
    sign_in(page, server, user)
    return page


def problems(page: Page) -> list[str]:
    """Script errors and CSP refusals (the favicon, missing for now, is not this file's)."""
    return [p for p in page.problems if "Failed to load resource" not in p]  # type: ignore[attr-defined]


def settled_scroll(page: Page, expected: float) -> float:
    """window.scrollY once it reached ``expected`` (the page script may not run evaluated
    strings: no wait_for_function under this CSP), or the last value after 3 s."""
    value = 0.0
    for _ in range(30):
        value = float(page.evaluate("window.scrollY"))
        if abs(value - expected) < 2:
            break
        page.wait_for_timeout(100)
    return value


def pane_subject(page: Page) -> str:
    return page.locator("#reading-pane .message-subject").inner_text().strip()


def list_scroll(page: Page) -> int:
    return int(page.evaluate("document.getElementById('list-pane').scrollTop"))


def row(page: Page, subject: str) -> object:
    return page.locator("#message-list li.row", has_text=subject)


@pytest.mark.parametrize("viewport", [TABLET, DESKTOP], ids=["tablet", "desktop"])
def test_the_split_view_keeps_the_list_and_follows_back_and_forward(
    browser: object,
    pages: list[Page],
    server: str,
    stack: Stack,
    user: MailUser,
    viewport: dict[str, int],
) -> None:
    append(stack, user, 40)
    page = signed_in(browser, pages, server, user, viewport)
    page.goto(server + "/mail")
    expect(page.locator("#reading-pane .pane-empty")).to_be_visible()
    page.evaluate("document.getElementById('list-pane').scrollTop = 500")
    scrolled = list_scroll(page)
    assert scrolled > 0  # the list scrolls on its own, beside the pane
    row(page, "Message 25").locator("a.row-link").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 25")
    assert "/mail/message?" in page.url
    # (The live inbox puts the unread count in front.)
    expect(page).to_have_title(re.compile(r"^(\(\d+\) )?Message 25 · MSSanté$"))
    assert page.locator("#list-pane").is_visible()
    assert list_scroll(page) == scrolled  # the list stayed where it was
    current = page.locator("#message-list a.row-link[aria-current]")
    expect(current).to_have_count(1)
    expect(current).to_contain_text("Message 25")
    # The pane's own next (older) message, then back and forward.
    page.locator("#reading-pane a[rel=next]").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 24")
    expect(page.locator("#message-list a.row-link[aria-current]")).to_contain_text("Message 24")
    assert list_scroll(page) == scrolled
    page.go_back()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 25")
    expect(page.locator("#message-list a.row-link[aria-current]")).to_contain_text("Message 25")
    page.go_forward()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 24")
    # A reload shows the same message, with its list beside it.
    page.reload()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 24")
    expect(page.locator("#message-list a.row-link[aria-current]")).to_contain_text("Message 24")
    page.go_back()
    page.go_back()
    expect(page.locator("#reading-pane .pane-empty")).to_be_visible()
    assert problems(page) == []


@pytest.mark.parametrize("viewport", [TABLET, DESKTOP], ids=["tablet", "desktop"])
def test_archive_and_delete_from_the_pane_take_the_row_out_and_open_the_next(
    browser: object,
    pages: list[Page],
    server: str,
    stack: Stack,
    user: MailUser,
    viewport: dict[str, int],
) -> None:
    append(stack, user, 5)
    page = signed_in(browser, pages, server, user, viewport)
    page.goto(server + "/mail")
    row(page, "Message 03").locator("a.row-link").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 03")
    page.locator("#reading-pane button[aria-label=Archiver]").click()
    expect(row(page, "Message 03")).to_have_count(0)
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 02")
    expect(page.locator("#message-list a.row-link[aria-current]")).to_contain_text("Message 02")
    assert page.url.endswith(
        "uid=" + page.locator("#reading-pane article").get_attribute("data-uid")
    )
    assert [s for s in wait_for_messages(stack, user, "Archive", 1)] != []
    # What the list would have said, with its undo, above the list.
    notice = page.locator("#list-pane > #undo-notice")
    expect(notice).to_contain_text("archivé")
    page.locator("#reading-pane button[aria-label=Supprimer]").click()
    expect(row(page, "Message 02")).to_have_count(0)
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 01")
    assert len(wait_for_messages(stack, user, "Trash", 1)) == 1
    # The last one of the list: the one before it opens.
    row(page, "Message 00").locator("a.row-link").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 00")
    page.locator("#reading-pane button[aria-label=Archiver]").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 01")
    expect(page.locator("#message-list li.row")).to_have_count(2)
    page.reload()  # the server agrees
    expect(page.locator("#message-list li.row")).to_have_count(2)
    # The undo offer of the last action brings the message back.
    page.locator("#message-list li.row a.row-link").first.click()
    page.locator("#reading-pane button[aria-label=Archiver]").click()
    expect(page.locator("#message-list li.row")).to_have_count(1)
    page.locator("#list-pane > #undo-notice button", has_text="Annuler").click()
    page.wait_for_url("**notice=undone")
    expect(page.locator("#message-list li.row")).to_have_count(2)
    assert problems(page) == []


def test_a_refused_action_in_the_pane_shows_the_server_answer(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    """Moving to a folder deleted meanwhile: the server's refusal is shown, nothing vanishes."""
    append(stack, user, 2)
    imap = imap_for(stack, user)
    try:
        imap.create("Temporaire")
    finally:
        imap.logout()
    page = signed_in(browser, pages, server, user, TABLET)
    page.goto(server + "/mail")
    row(page, "Message 01").locator("a.row-link").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 01")
    imap = imap_for(stack, user)
    try:
        imap.delete("Temporaire")
    finally:
        imap.logout()
    page.locator("#reading-pane .move-menu summary").click()
    page.locator("#move-target").select_option("Temporaire")
    page.locator("#reading-pane .move-form button[type=submit]").click()
    expect(page.get_by_text("Le dossier de destination n'existe pas.")).to_be_visible()
    assert len(wait_for_messages(stack, user, "INBOX", 2)) == 2


def test_more_messages_and_new_mail_arrive_in_the_list_beside_the_pane(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 55)  # more than a page (50)
    page = signed_in(browser, pages, server, user, TABLET)
    page.goto(server + "/mail")
    row(page, "Message 50").locator("a.row-link").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 50")
    expect(page.locator("#message-list li.row")).to_have_count(50)
    page.locator("#message-list .rows-more a").click()
    expect(page.locator("#message-list li.row")).to_have_count(55)
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 50")
    row(page, "Message 00").locator("a.row-link").click()  # an appended row opens in the pane
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 00")
    wait_for_watcher(stack, user)
    deliver(stack, user, simple_mail("b@chu-demo.mssante.test", user.address, "Compte rendu"))
    expect(page.locator("#message-list li.row").first).to_contain_text("Compte rendu", timeout=8000)
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 00")
    page.locator("#message-list li.row").first.locator("a.row-link").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Compte rendu")
    assert "/mail/message?" in page.url
    assert problems(page) == []


def test_on_a_phone_the_message_replaces_the_list_and_back_returns_to_it(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 40)
    page = signed_in(browser, pages, server, user, PHONE)
    page.goto(server + "/mail")
    page.evaluate("window.scrollTo(0, 900)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    target = page.locator("li.row a.row-link").nth(15)
    subject = target.locator(".subject").inner_text().strip()
    target.click()
    page.wait_for_url("**/mail/message?**")
    expect(page.locator(".message-subject")).to_have_text(subject)
    assert not page.locator("#message-list").is_visible()
    bar = page.locator("#action-bar")
    box = bar.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    page.go_back()
    page.wait_for_url("**/mail")
    expect(page.locator("#message-list")).to_be_visible()
    assert settled_scroll(page, scrolled) == pytest.approx(scrolled, abs=2)
    # The top bar's back does the same.
    page.locator("li.row a.row-link").nth(15).click()
    page.wait_for_url("**/mail/message?**")
    page.locator(".topbar a[data-back]").click()
    page.wait_for_url("**/mail")
    assert settled_scroll(page, scrolled) == pytest.approx(scrolled, abs=2)
    assert problems(page) == []


def test_without_script_the_list_a_message_and_reply_are_whole_pages(
    browser: object, pages: list[Page], server: str, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 3)
    page = new_page(browser, TABLET, java_script_enabled=False)
    pages.append(page)
    sign_in(page, server, user)
    page.goto(server + "/mail")
    row(page, "Message 01").locator("a.row-link").click()
    page.wait_for_url("**/mail/message?**")
    # The page came whole: the list beside the message, its row marked.
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 01")
    expect(page.locator("#message-list a.row-link[aria-current]")).to_contain_text("Message 01")
    page.locator("#reading-pane a[rel=next]").click()
    expect(page.locator("#reading-pane .message-subject")).to_have_text("Message 00")
    page.locator("#reading-pane a[aria-label='Répondre']").click()
    page.wait_for_url("**/compose?**")
    expect(page.locator("#subject")).to_have_value("RE: Message 00")
    page.set_viewport_size(PHONE)
    page.goto(server + "/mail")
    row(page, "Message 02").locator("a.row-link").click()
    expect(page.locator(".message-subject")).to_have_text("Message 02")
    assert not page.locator("#message-list").is_visible()
