"""Printing a message in Chromium: the application's bars, buttons and navigation hidden, the
headers and the whole body on paper, an HTML mail's through its own frame."""

from __future__ import annotations

import re

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail
from tests.test_browser import browser, server, sign_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "server"]  # fixtures, shared with the browser tests

CHROME = [".topbar", "nav.actions", ".message-tools", ".message-nav", ".remote-banner"]


def _shown(page: object, selector: str) -> bool:
    return bool(
        page.evaluate(  # type: ignore[attr-defined]
            """(selector) => [...document.querySelectorAll(selector)].some(
                   (e) => getComputedStyle(e).display !== 'none' && e.getClientRects().length)""",
            selector,
        )
    )


def test_printing_hides_the_application(
    server: str, browser: object, stack: Stack, user: MailUser
) -> None:
    text = simple_mail(
        "dr.b@chu-demo.mssante.test", user.address, "Compte rendu", "Patient vu ce matin."
    )
    html = simple_mail("dr.b@chu-demo.mssante.test", user.address, "Lettre de liaison")
    long_body = "".join(f"<p>Paragraphe {n} du courrier.</p>" for n in range(1, 121))
    html.add_alternative(
        f'<h2>Sortie</h2>{long_body}<p>Fin du courrier.</p><img src="https://t.example/p.gif">',
        subtype="html",
    )
    text_uid = deliver(stack, user, text)
    html_uid = deliver(stack, user, html)
    context = browser.new_context(locale="fr-FR")  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        sign_in(page, server, user)

        page.goto(f"{server}/mail/message?folder=INBOX&uid={text_uid}")
        page.evaluate("window.print = () => { window.printed = true; }")
        page.locator("a.print-link").click()
        assert page.evaluate("window.printed === true")  # printed in place, no navigation
        page.emulate_media(media="print")
        for selector in CHROME:
            assert not _shown(page, selector), selector
        head = page.locator(".message-head").inner_text()
        assert "Compte rendu" in head and "dr.b@chu-demo.mssante.test" in head
        assert "Date" in head and "À" in head
        assert page.locator("pre.text-body").inner_text().strip() == "Patient vu ce matin."
        assert page.pdf()[:5] == b"%PDF-"
        page.emulate_media(media="screen")

        # An HTML mail prints through a frame of its own, headers above the whole body.
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(f"{server}/mail/message?folder=INBOX&uid={html_uid}")
        link = page.locator("a.print-link")
        target = str(link.get_attribute("href"))
        assert "/mail/message/frame?" in target and "print=1" in target
        link.click()
        printing = page.locator("iframe.print-frame")
        assert "print=1" in str(printing.get_attribute("src"))
        page.wait_for_timeout(500)
        assert not [line for line in console if "print()" in line], console  # not refused
        assert page.url.startswith(f"{server}/mail/message?")  # no navigation

        page.goto(f"{server}{target}")  # what is printed (also the page without script)
        page.emulate_media(media="print")
        head = page.locator(".print-head").inner_text()
        assert "Lettre de liaison" in head and "dr.b@chu-demo.mssante.test" in head
        body = page.locator("body").inner_text()
        assert "Paragraphe 1 du courrier." in body and "Fin du courrier." in body
        assert page.locator('img[src^="https:"]').count() == 0  # remote images stay blocked
        pdf = page.pdf()
        # The whole body, over several sheets: never one box cut at the end of the first.
        assert pdf[:5] == b"%PDF-" and len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) >= 2
    finally:
        context.close()
