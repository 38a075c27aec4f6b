"""The day of a clinician in Chromium, against the real stack: at phone size (touch) and
tablet size (mouse), in the light and the dark theme. Switch language, sign in with the
second factor, read, reply with an attachment, move, delete."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from dev.env import webmail_env
from dev.stack import Stack
from tests.browser_axe import SIZES
from tests.conftest import MailUser, deliver, new_user, simple_mail, wait_for_messages
from tests.served import served_webmail
from tests.test_browser import browser, no_horizontal_scroll

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # a fixture, shared with the browser tests

_BACKGROUND = "e => getComputedStyle(e).backgroundColor"


@pytest.fixture(scope="module")
def flows_server(stack: Stack) -> Iterator[str]:
    # Sent at once: undo send has its own browser test.
    with served_webmail(webmail_env(stack, MSS_UNDO_SEND_SECONDS="0")) as (url, _port):
        yield url


@pytest.fixture
def device(browser: Any, request: pytest.FixtureRequest) -> Iterator[Device]:
    size, theme = request.param
    phone = size == "phone"
    context = browser.new_context(
        viewport=SIZES[size],
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=1,
        locale="fr-FR",
        color_scheme=theme,
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield Device(page, touch=phone, theme=theme, problems=problems)
    context.close()


@dataclass
class Device:
    """A page, and how its user points: a finger on the phone, a mouse on the tablet."""

    page: Any
    touch: bool
    theme: str
    problems: list[str]

    def press(self, target: Any) -> None:
        if self.touch:
            target.tap()
        else:
            target.click()


def _password(device: Device, server: str, user: MailUser) -> None:
    page = device.page
    page.goto(server + "/login")
    page.fill("#address", user.address)
    page.fill("#password", user.password)
    device.press(page.locator("main button[type=submit]"))
    page.wait_for_url("**/login/otp")


def _sign_in_twice(device: Device, server: str, user: MailUser) -> None:
    """Enrolment at the first sign-in, then a sign-in with the application's code."""
    page = device.page
    _password(device, server, user)
    secret = "".join(page.inner_text("#secret").split())
    totp = pyotp.TOTP(secret)
    page.fill("#code", totp.now())
    device.press(page.get_by_role("button", name="Activer"))
    device.press(page.locator("a.btn-primary"))
    page.wait_for_url("**/mail")
    device.press(page.get_by_role("button", name="Se déconnecter"))
    page.wait_for_url("**/login**")
    _password(device, server, user)
    page.fill("#code", totp.at(int(time.time()) + 30))  # the next step: never the same code
    device.press(page.get_by_role("button", name="Valider", exact=True))
    page.wait_for_url("**/mail")


def _open(device: Device, subject: str) -> None:
    page = device.page
    device.press(page.locator("li.row a", has_text=subject).first)
    page.wait_for_url("**/mail/message?**")
    expect(page.locator(".message-subject")).to_have_text(subject)


def _attachments(raw: bytes) -> list[str]:
    parsed: Message = email.message_from_bytes(raw)
    return [part.get_filename() or "" for part in parsed.walk() if part.get_filename()]


@pytest.mark.parametrize(
    "device", [("phone", "light"), ("tablet", "dark")], indirect=True, ids=["phone", "tablet"]
)
def test_a_day_of_mail(flows_server: str, device: Device, stack: Stack, tmp_path: Path) -> None:
    page, server = device.page, flows_server
    user, colleague = new_user(stack), new_user(stack, "chu-demo.mssante.test")
    request = simple_mail(colleague.address, user.address, "Demande d'avis — Mme Exemple")
    request.add_alternative("<p>Pouvez-vous <b>revoir</b> ce dossier ?</p>", subtype="html")
    for message in (
        simple_mail(colleague.address, user.address, "Résultats à classer"),
        simple_mail("lettre@labo.example", user.address, "Lettre d'information"),
        request,
    ):
        deliver(stack, user, message)

    # English, then back to French, before signing in.
    page.goto(server + "/login")
    device.press(page.get_by_role("link", name="English"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.locator("h1").inner_text() != "Connexion"
    device.press(page.get_by_role("link", name="Français"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    _sign_in_twice(device, server, user)
    assert page.locator("li.row").count() == 3 and no_horizontal_scroll(page)

    # Read, in the context's theme and then the other: the mail frame stays light in both.
    _open(device, "Demande d'avis — Mme Exemple")
    frame = page.frame_locator("iframe.mail-frame")
    expect(frame.locator("body")).to_contain_text("revoir")
    backgrounds = {}
    for theme in (device.theme, "light" if device.theme == "dark" else "dark"):
        page.emulate_media(color_scheme=theme)
        backgrounds[theme] = page.locator("html").evaluate(_BACKGROUND)
        assert frame.locator("body").evaluate(_BACKGROUND) == "rgb(255, 255, 255)"
    assert backgrounds["light"] != backgrounds["dark"]
    page.emulate_media(color_scheme=device.theme)
    assert no_horizontal_scroll(page)

    # Reply with an attachment.
    device.press(page.get_by_role("link", name="Répondre", exact=True).first)
    page.wait_for_url("**/compose?**")
    assert colleague.address in page.input_value("#to")
    page.fill("#body", "Bonjour,\n\nJe la vois jeudi.\n")
    letter = tmp_path / "courrier été.pdf"
    letter.write_bytes(b"%PDF-1.4 courrier")
    page.set_input_files("#attachments", str(letter))
    device.press(page.get_by_role("button", name="Envoyer", exact=True))
    page.wait_for_url("**/mail?**")
    (reply,) = wait_for_messages(stack, colleague)
    parsed = email.message_from_bytes(reply)
    assert "Demande d'avis" in str(
        email.header.make_header(email.header.decode_header(parsed["Subject"]))
    )
    assert _attachments(reply) == ["courrier été.pdf"]

    # Move one message, delete another.
    page.goto(server + "/mail")
    _open(device, "Résultats à classer")
    device.press(page.locator(".move-menu > summary").first)  # the action bar's move menu
    target = page.locator(".move-form").get_by_label("Déplacer vers")  # not the list's own
    folder = target.input_value()
    device.press(page.locator(".move-form").get_by_role("button", name="Déplacer", exact=True))
    page.wait_for_url("**/mail**")
    assert len(wait_for_messages(stack, user, folder)) == 1
    page.goto(server + "/mail")
    _open(device, "Lettre d'information")
    device.press(page.get_by_role("button", name="Supprimer", exact=True).first)
    page.wait_for_url("**/mail**")
    assert len(wait_for_messages(stack, user, "Trash")) == 1
    page.goto(server + "/mail")
    left = page.locator("li.row .subject").all_inner_texts()
    assert [subject.strip() for subject in left] == ["Demande d'avis — Mme Exemple"]
    problems = [p for p in device.problems if "Failed to load resource" not in p]
    assert problems == []
