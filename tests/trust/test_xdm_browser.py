"""The structured documents in the real Chromium, on a phone: no script error, no CSP breach."""

from __future__ import annotations

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, deliver
from tests.test_browser import browser, no_horizontal_scroll, phone, server, sign_in
from tests.trust import xdm_samples as samples
from tests.trust.test_xdm_reader import xdm_mail

pytestmark = pytest.mark.browser
__all__ = ["browser", "phone", "server"]  # fixtures, shared with the main browser tests


def test_documents_cda_and_compose_section_on_a_phone(
    phone: object, server: str, stack: Stack, user: MailUser
) -> None:
    page = phone
    narrative = samples.cda_with(
        "<paragraph>Patiente <content styleCode='Bold'>hospitalisée</content> du 2 au 5.</paragraph>"
        "<list><item>furosémide 40 mg</item></list>"
    )
    archive = samples.replaced(samples.good_archive(1), "IHE_XDM/SUBSET01/DOC0001.XML", narrative)
    uid = deliver(stack, user, xdm_mail(user.address, archive))
    sign_in(page, server, user)
    page.goto(f"{server}/mail/message?folder=INBOX&uid={uid}")  # type: ignore[attr-defined]
    block = page.locator("section.structured-documents")  # type: ignore[attr-defined]
    assert block.locator(".xdm-patient-name").inner_text() == "LEFÈVRE Anne-Sophie"
    assert no_horizontal_scroll(page)
    page.screenshot(path="/tmp/xdm-message.png", full_page=True)  # type: ignore[attr-defined]

    page.click("a.xdm-open")  # type: ignore[attr-defined]
    page.wait_for_url("**/mail/xdm/document**")  # type: ignore[attr-defined]
    assert page.inner_text(".cda-patient") == "LEFÈVRE Anne-Sophie"  # type: ignore[attr-defined]
    frame = page.frame_locator("#cda-frame")  # type: ignore[attr-defined]
    assert frame.locator("div p strong").inner_text() == "hospitalisée"
    assert no_horizontal_scroll(page)
    page.screenshot(path="/tmp/xdm-cda.png", full_page=True)  # type: ignore[attr-defined]
    page.click("header.topbar a.iconbtn[href^='/mail/message']")  # type: ignore[attr-defined]
    page.wait_for_url("**/mail/message**")  # type: ignore[attr-defined]

    page.goto(f"{server}/compose")  # type: ignore[attr-defined]
    assert not page.is_visible("#xdm_family")  # type: ignore[attr-defined]
    page.click("details.structured summary")  # type: ignore[attr-defined]
    assert page.is_visible("#xdm_family")  # type: ignore[attr-defined]
    assert no_horizontal_scroll(page)
    page.screenshot(path="/tmp/xdm-compose.png", full_page=True)  # type: ignore[attr-defined]
    # (The browser's own favicon request may 404; nothing else may fail.)
    problems = [p for p in page.problems if "favicon" not in p and "404" not in p]  # type: ignore[attr-defined]
    assert problems == []
