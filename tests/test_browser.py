"""The real thing: Chromium at phone size against a served webmail and the real mail stack."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from dev.env import webmail_env
from dev.psc import PscProvider
from dev.stack import Stack
from tests.conftest import (
    PSC_SERVED_PORT,
    PSC_SERVED_REDIRECT_URI,
    MailUser,
    deliver,
    new_user,
    simple_mail,
    wait_for_messages,
)
from tests.served import served_webmail

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(stack: Stack) -> Iterator[str]:
    with served_webmail(webmail_env(stack)) as (url, _port):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (dev/install.sh --browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser: object) -> Iterator[object]:
    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,  # type: ignore[attr-defined]
        device_scale_factor=2,
        locale="fr-FR",
    )
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


def type_password(page: object, server: str, user: MailUser) -> None:
    page.goto(server + "/login")  # type: ignore[attr-defined]
    page.fill("#address", user.address)  # type: ignore[attr-defined]
    page.fill("#password", user.password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url("**/login/otp")  # type: ignore[attr-defined]


def sign_in(page: object, server: str, user: MailUser) -> list[str]:
    """First login: enrol, as a user does with the key shown under the QR code; returns the
    recovery codes shown."""
    type_password(page, server, user)
    secret = "".join(page.inner_text("#secret").split())  # type: ignore[attr-defined]
    page.fill("#code", pyotp.TOTP(secret).now())  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    codes = page.locator(".recovery-codes code").all_inner_texts()  # type: ignore[attr-defined]
    assert len(codes) == 10
    page.click("a.btn-primary")  # type: ignore[attr-defined]
    page.wait_for_url("**/mail")  # type: ignore[attr-defined]
    return list(codes)


def no_horizontal_scroll(page: object) -> bool:
    return bool(
        page.evaluate(  # type: ignore[attr-defined]
            "document.documentElement.scrollWidth <= window.innerWidth"
        )
    )


def test_read_and_reply_on_a_phone(
    server: str, phone: object, stack: Stack, user: MailUser, tmp_path: Path
) -> None:
    colleague = new_user(stack, "chu-demo.mssante.test")
    letter = simple_mail(
        colleague.address,
        user.address,
        "Compte rendu d'hospitalisation — Mme Exemple",
        "Chère consœur,\n\nVotre patiente est sortie ce jour.\n",
    )
    letter.add_alternative(
        "<p>Chère consœur,</p><p>Votre patiente est <b>sortie</b> ce jour.</p>"
        '<img src="https://tracker.example/p.gif"><script>document.title="pwned"</script>',
        subtype="html",
    )
    letter.add_attachment(
        b"%PDF-1.4 demo", maintype="application", subtype="pdf", filename="CRH été.pdf"
    )
    deliver(stack, user, letter)

    page = phone
    sign_in(page, server, user)
    row = page.locator("li.row").first  # type: ignore[attr-defined]
    assert "Compte rendu d'hospitalisation" in row.inner_text()
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(tmp_path / "inbox.png"))  # type: ignore[attr-defined]

    row.locator("a").click()
    page.wait_for_url("**/mail/message?**")  # type: ignore[attr-defined]
    frame = page.frame_locator("iframe.mail-frame")  # type: ignore[attr-defined]
    # The frame loads after the page: wait for its text rather than read it at once.
    expect(frame.locator("body")).to_contain_text("sortie")
    assert page.title() != "pwned"  # type: ignore[attr-defined]
    assert page.locator(".remote-banner").is_visible()  # type: ignore[attr-defined]
    assert page.locator("a.attachment").inner_text().startswith("CRH été.pdf")  # type: ignore[attr-defined]
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(tmp_path / "message.png"), full_page=True)  # type: ignore[attr-defined]

    page.get_by_role("link", name="Répondre", exact=True).click()  # type: ignore[attr-defined]
    page.wait_for_url("**/compose?**")  # type: ignore[attr-defined]
    assert page.input_value("#to") == colleague.address  # type: ignore[attr-defined]
    page.fill("#body", "Merci, bien reçu.")  # type: ignore[attr-defined]
    page.click("button[value=send]")  # type: ignore[attr-defined]
    page.wait_for_url("**/mail?folder=INBOX&notice=sent")  # type: ignore[attr-defined]
    assert page.locator("[role=status]").inner_text() == "Message envoyé."  # type: ignore[attr-defined]

    reply = wait_for_messages(stack, colleague)[0]
    assert b"Merci, bien re" in reply
    csp_violations = [p for p in page.problems if "Content Security Policy" in p]  # type: ignore[attr-defined]
    assert csp_violations == []
    if os.environ.get("MSS_KEEP_SCREENSHOTS"):
        shutil.copytree(tmp_path, os.environ["MSS_KEEP_SCREENSHOTS"], dirs_exist_ok=True)


def test_touch_targets_are_thumb_sized(server: str, phone: object, user: MailUser) -> None:
    page = phone
    sign_in(page, server, user)
    for selector in (".topbar a", ".topbar button", "a.btn"):
        for box in [element.bounding_box() for element in page.locator(selector).all()]:  # type: ignore[attr-defined]
            if box:
                assert box["height"] >= 40, selector


def test_sign_in_with_a_recovery_code_on_a_phone(
    server: str, browser: object, phone: object, user: MailUser
) -> None:
    codes = sign_in(phone, server, user)
    # The phone with the authenticator is lost: a new device, and a recovery code typed by hand.
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="fr-FR")  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        type_password(page, server, user)
        page.click("details.recovery-entry summary")
        field = page.locator("#recovery-code")
        field.fill(codes[3].lower().replace("-", " "))  # as a hurried user types it
        field.press("Enter")
        page.wait_for_url("**/mail?notice=recovery")
        assert page.locator("li.row, .empty").count() >= 1
        # The same code never works twice, even typed in the main field.
        type_password(page, server, user)
        page.fill("#code", codes[3])
        page.locator("#code").press("Enter")
        alert = page.wait_for_selector("[role=alert]")
        assert "incorrect" in alert.inner_text()
        assert page.url.endswith("/login/otp")
    finally:
        context.close()


def test_deleting_from_trash_asks_once_in_the_browser(
    server: str, phone: object, stack: Stack, user: MailUser
) -> None:
    page = phone
    sign_in(page, server, user)
    uid = deliver(
        stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Vieux"), "Trash"
    )
    asked: list[str] = []

    def accept(dialog: object) -> None:
        asked.append(dialog.message)  # type: ignore[attr-defined]
        dialog.accept()  # type: ignore[attr-defined]

    page.on("dialog", accept)  # type: ignore[attr-defined]
    page.goto(f"{server}/mail/message?folder=Trash&uid={uid}")  # type: ignore[attr-defined]
    page.click("form[action='/mail/delete'] button")  # type: ignore[attr-defined]
    # Confirmed in the browser: deleted at once, no second question from the server.
    page.wait_for_url("**/mail?folder=Trash&notice=deleted")  # type: ignore[attr-defined]
    assert asked == ["Supprimer définitivement ce message ?"]


def test_sign_in_with_pro_sante_connect_on_a_phone(
    psc: PscProvider, stack: Stack, browser: object, user: MailUser
) -> None:
    """The button, the provider's page, back to the inbox opened over XOAUTH2; logout through
    the provider's."""
    deliver(stack, user, simple_mail("chu@chu-demo.mssante.test", user.address, "Bilan"))
    env = webmail_env(
        stack,
        MSS_PSC_ENABLED="true",
        MSS_PSC_ISSUER=psc.issuer,
        MSS_PSC_CLIENT_ID=psc.client_id,
        MSS_PSC_CLIENT_SECRET=psc.client_secret,
        MSS_PSC_REDIRECT_URI=PSC_SERVED_REDIRECT_URI,
    )
    with served_webmail(env, port=PSC_SERVED_PORT) as (url, _port):
        # The provider's certificate comes from the test CA, which Chromium does not know.
        context = browser.new_context(  # type: ignore[attr-defined]
            viewport=PHONE, is_mobile=True, locale="fr-FR", ignore_https_errors=True
        )
        try:
            page = context.new_page()
            page.goto(url + "/login")
            page.click("#psc-login")
            page.wait_for_url(psc.issuer + "/interaction/**")
            page.fill("input[name=login]", user.address)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/mail")
            expect(page.locator("li.row").first).to_contain_text("Bilan")
            assert page.locator("#identity").inner_text().startswith("Dominique ")
            # Logout goes through the provider's own logout, then back to the login page.
            page.click("form.logout button")
            page.wait_for_url(psc.issuer + "/session/end**")
            page.click("button[name=logout]")
            page.wait_for_url(url + "/login?notice=logout**")
        finally:
            context.close()
