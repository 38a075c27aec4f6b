"""Sign-in from the phone in the real Chromium at phone size: the page waits, the
practitioner approves on the (dev) e-CPS phone, the page signs in by itself."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from dev.env import webmail_env
from dev.psc import PscProvider
from dev.psc_phone import DevPhone
from dev.stack import Stack
from tests.conftest import PSC_REDIRECT_URI, MailUser, deliver, simple_mail
from tests.served import served_webmail
from tests.test_browser import PHONE, browser, no_horizontal_scroll

pytestmark = pytest.mark.browser

__all__ = ["browser"]  # the Chromium of tests/test_browser.py, shared as a fixture


@pytest.fixture(scope="module")
def psc_server(stack: Stack, psc: PscProvider) -> Iterator[str]:
    env = webmail_env(
        stack,
        MSS_PSC_ENABLED="true",
        MSS_PSC_ISSUER=psc.issuer,
        MSS_PSC_CLIENT_ID=psc.client_id,
        MSS_PSC_CLIENT_SECRET=psc.client_secret,
        MSS_PSC_REDIRECT_URI=PSC_REDIRECT_URI,
    )
    with served_webmail(env) as (url, _port):
        yield url


def test_the_page_waits_then_signs_in_once_approved_on_the_phone(
    psc_server: str, psc: PscProvider, stack: Stack, browser: object, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("chu@chu-demo.mssante.test", user.address, "Radio thorax"))
    national_id = "8" + "".join(secrets.choice("0123456789") for _ in range(11))
    DevPhone(psc).register(national_id, user.address)
    # The dev phone is served with the test CA's certificate, which Chromium does not know.
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport=PHONE, is_mobile=True, has_touch=True, locale="fr-FR", ignore_https_errors=True
    )
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        # Every answer the page gets, its htmx polls included (Chromium's own favicon
        # request is not one of them).
        page.on(
            "response",
            lambda answer: (
                problems.append(f"{answer.status} {answer.url}") if answer.status >= 400 else None
            ),
        )
        page.goto(psc_server + "/login")
        page.click("#psc-phone-login")
        page.wait_for_url(psc_server + "/login/phone")
        assert page.get_attribute("#national-id", "inputmode") == "numeric"
        page.fill("#national-id", national_id)
        page.click("button[type=submit]")
        page.wait_for_url(psc_server + "/login/phone/wait")
        code = page.inner_text("#binding-code").strip()
        assert len(code) == 4
        assert no_horizontal_scroll(page)
        # The page keeps waiting while nobody answers.
        page.wait_for_timeout(2500)
        assert page.url == psc_server + "/login/phone/wait"
        expect(page.locator("#binding-code")).to_have_text(code)

        # On the phone: the same code, approved.
        on_phone = context.new_page()
        on_phone.goto(DevPhone(psc).url)
        request = on_phone.locator("li", has=on_phone.locator("strong.binding", has_text=code))
        expect(request).to_contain_text(national_id)
        request.get_by_role("button", name="Approuver").click()

        # The consulting-room page signs in by itself.
        page.wait_for_url(psc_server + "/mail", timeout=15000)
        expect(page.locator("li.row").first).to_contain_text("Radio thorax")
        assert page.locator("#identity").inner_text().startswith("Dominique ")
        assert problems == []
    finally:
        context.close()


def test_refused_on_the_phone_the_page_says_so(
    psc_server: str, psc: PscProvider, browser: object, user: MailUser
) -> None:
    national_id = "8" + "".join(secrets.choice("0123456789") for _ in range(11))
    phone = DevPhone(psc)
    phone.register(national_id, user.address)
    context = browser.new_context(viewport=PHONE, is_mobile=True, locale="fr-FR")  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        page.goto(psc_server + "/login/phone")
        page.fill("#national-id", national_id)
        page.click("button[type=submit]")
        page.wait_for_url(psc_server + "/login/phone/wait")
        phone.deny(phone.pending(national_id))
        expect(page.locator(".alert-error")).to_have_text(
            "La demande a été refusée dans l'application e-CPS. Vous pouvez recommencer.",
            timeout=15000,
        )
        # The form is back, ready to send again; the polling has stopped.
        expect(page.locator("#national-id")).to_have_value(national_id)
        assert page.locator("#phone-status").count() == 0
    finally:
        context.close()
