"""Chromium really shows a PDF preview under the preview's sandbox policy, in a tab of its own,
and an HTML page dressed as a PDF never runs there."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail
from tests.test_browser import browser, server, sign_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "server"]  # fixtures, shared with the browser tests

# A one-page PDF saying "Bonjour PDF".
PDF = b"""%PDF-1.4
1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 200]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj
4 0 obj<</Length 44>>stream
BT /F1 24 Tf 50 100 Td (Bonjour PDF) Tj ET
endstream endobj
5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj
trailer<</Root 1 0 R>>
%%EOF
"""
HOSTILE = b"<html><body><script>document.title='pwned';alert(1)</script>x</body></html>"
PDF_VIEWER = "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/"


def letter(to: str) -> EmailMessage:
    message = simple_mail("labo@labo-demo.mssante.test", to, "Compte rendu")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="cr.pdf")
    message.add_attachment(HOSTILE, maintype="application", subtype="pdf", filename="faux.pdf")
    return message


def test_a_pdf_preview_opens_in_the_viewer(
    server: str, browser: object, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, letter(user.address))
    context = browser.new_context(locale="fr-FR", accept_downloads=True)  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        sign_in(page, server, user)
        page.goto(f"{server}/mail/message?folder=INBOX&uid={uid}")
        downloads: list[object] = []
        context.on("page", lambda tab: tab.on("download", lambda d: downloads.append(d)))
        with context.expect_page() as opened:
            page.locator("a.att-preview").first.click()
        tab = opened.value
        tab.wait_for_load_state()
        tab.wait_for_timeout(1500)  # the viewer starts in a frame of its own
        assert any(frame.url.startswith(PDF_VIEWER) for frame in tab.frames), [
            frame.url for frame in tab.frames
        ]
        assert downloads == []
        tab.close()

        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        hostile = page.goto(f"{server}/mail/preview?folder=INBOX&uid={uid}&part=3")
        assert hostile is not None and hostile.status == 415
        assert page.title() != "pwned" and dialogs == []
        assert not any(frame.url.startswith(PDF_VIEWER) for frame in page.frames)
    finally:
        context.close()
