"""axe-core on every main page, at phone (touch) and tablet size, in the light and dark
themes: no serious or critical violation. Also what axe cannot see: the size of the small
targets, the accessible name of the compose link, and the enrolment's otpauth:// link."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from dev.stack import Stack
from tests.browser_axe import axe_context, check_themes, contrast
from tests.conftest import MailUser, deliver, new_user, simple_mail, soup
from tests.test_browser import browser, server
from webmail.auth import totp

pytestmark = pytest.mark.browser
__all__ = ["browser", "server"]  # fixtures, shared with the browser tests


def _mail(stack: Stack, user: MailUser) -> tuple[int, int]:
    """A text message and an HTML one with an attachment; their UIDs."""
    sender = "dr.martin@chu-demo.mssante.test"
    text = simple_mail(sender, user.address, "Bilan sanguin — M. Exemple", "Résultats normaux.\n")
    html = simple_mail(sender, user.address, "Compte rendu opératoire", "Voir le compte rendu.")
    html.add_alternative(
        "<h2>Compte rendu</h2><p>Intervention <b>sans complication</b>.</p>"
        '<table><tr><td style="color:#777">Date</td><td>24/11</td></tr></table>',
        subtype="html",
    )
    html.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="CRO.pdf")
    return deliver(stack, user, text), deliver(stack, user, html)


def _enrol(page: Any, server: str, user: MailUser) -> str:
    """Password, then the enrolment page (checked by the caller); returns the secret."""
    page.goto(server + "/login")
    page.fill("#address", user.address)
    page.fill("#password", user.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/login/otp")
    return "".join(page.inner_text("#secret").split())


@pytest.mark.parametrize("size", ["phone", "tablet"])
def test_main_pages_have_no_serious_violation(
    server: str, browser: Any, stack: Stack, size: str
) -> None:
    user = new_user(stack)
    text_uid, html_uid = _mail(stack, user)
    problems: list[str] = []
    with axe_context(browser, size) as page:
        page.goto(server + "/login")
        check_themes(page, "sign-in", problems)
        secret = _enrol(page, server, user)
        check_themes(page, "enrolment", problems)
        totp = pyotp.TOTP(secret)
        page.fill("#code", totp.now())
        page.click("button[type=submit]")
        page.locator(".recovery-codes").wait_for()
        check_themes(page, "recovery codes", problems)
        page.click("a.btn-primary")
        page.wait_for_url("**/mail")
        pages = {
            "mailbox": "/mail",
            "text message": f"/mail/message?folder=INBOX&uid={text_uid}",
            "HTML message": f"/mail/message?folder=INBOX&uid={html_uid}",
            "compose": "/compose",
            "reply": f"/compose?mode=reply&folder=INBOX&uid={text_uid}",
            "search": "/search?folder=INBOX&q=Bilan",
            "folders": "/mail/folders",
            "directory": "/directory",
            "account": "/account",
            "error page": "/mail/message?folder=INBOX&uid=999999",
        }
        for where, path in pages.items():
            page.goto(server + path)
            check_themes(page, where, problems)
        # What appears later on the list: the selection bar, the idle warning.
        page.goto(server + "/mail")
        page.locator("li.row .row-select input").first.check()
        page.locator(".idle-warning").evaluate("warning => { warning.hidden = false; }")
        check_themes(page, "selection and idle warning", problems)
        # The second factor's own page, at the next sign-in.
        page.goto(server + "/mail")
        page.locator("form.logout button").click()
        page.wait_for_url("**/login**")
        page.fill("#address", user.address)
        page.fill("#password", user.password)
        page.click("button[type=submit]")
        page.wait_for_url("**/login/otp")
        page.locator("#code").wait_for()
        check_themes(page, "second factor", problems)
    assert not problems, "\n".join(problems)


def test_the_check_finds_what_it_looks_for(browser: Any) -> None:
    """The helper itself: a link without a name and grey on grey are reported, in the theme
    asked for (the contrast only fails in dark)."""
    with axe_context(browser, "phone") as page:
        page.set_content(
            '<html lang="fr"><head><title>t</title><style>'
            "p{color:#111;background:#fff}"
            "@media (prefers-color-scheme: dark){p{color:#333;background:#222}}</style></head>"
            '<body><main><h1>t</h1><a href="/x"><svg aria-hidden="true"></svg></a>'
            "<p>texte</p></main></body></html>"
        )
        problems: list[str] = []
        check_themes(page, "sample", problems)
    assert len(problems) == 2
    assert "link-name" in problems[0] and "color-contrast" not in problems[0]
    assert "(dark," in problems[1] and "color-contrast" in problems[1]


def _box(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return dict(box)


def _thumb_sized(page: Any, selector: str) -> None:
    box = _box(page, selector)
    assert box["width"] >= 44 and box["height"] >= 44, f"{selector}: {box}"


@pytest.mark.parametrize("size", ["phone", "tablet"])
def test_enrolment_offers_a_link_to_the_authenticator(
    server: str, browser: Any, stack: Stack, size: str
) -> None:
    user = new_user(stack)
    with axe_context(browser, size) as page:
        secret = _enrol(page, server, user)
        link = page.locator("#otpauth-link")
        href = link.get_attribute("href")
        parts = urlsplit(href)
        assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
        query = parse_qs(parts.query)
        assert query["secret"] == [secret]
        assert query["issuer"] == ["MSSanté"]
        assert unquote(parts.path) == f"/MSSanté:{user.address}"
        # The QR code encodes that same URI: the server draws it from the link's URI.
        drawn = page.locator(".qr-box svg path").evaluate_all(
            "ps => ps.map(p => p.getAttribute('d'))"
        )
        expected = [path["d"] for path in soup(totp.qr_svg(href)).select("path")]
        assert drawn == expected and len(expected[0]) > 100
        # All of it is shown: a cropped code does not scan.
        svg, path = _box(page, ".qr-box svg"), _box(page, ".qr-box svg path")
        assert path["x"] >= svg["x"] and path["y"] >= svg["y"]
        assert path["x"] + path["width"] <= svg["x"] + svg["width"] + 0.5
        assert path["y"] + path["height"] <= svg["y"] + svg["height"] + 0.5
        # The key for manual entry, in groups of four.
        groups = page.locator("#secret span").all_inner_texts()
        assert "".join(groups) == secret and all(len(group) == 4 for group in groups[:-1])
        _thumb_sized(page, "#otpauth-link")
        link_top, qr_top = _box(page, "#otpauth-link")["y"], _box(page, ".qr-box svg")["y"]
        primary = page.locator("button[type=submit]").evaluate(
            "b => getComputedStyle(b).backgroundColor"
        )
        colour = link.evaluate("a => getComputedStyle(a).backgroundColor")
        if size == "phone":  # the phone showing the code cannot scan it: the link comes first
            assert link_top < qr_top and colour == primary
        else:
            assert link_top > qr_top and colour != primary


def test_small_targets_are_thumb_sized_and_named(server: str, browser: Any, stack: Stack) -> None:
    user = new_user(stack)
    with axe_context(browser, "phone") as page:
        page.goto(server + "/login")
        _thumb_sized(page, ".lang-switch a")
        secret = _enrol(page, server, user)
        page.fill("#code", pyotp.TOTP(secret).now())
        page.click("button[type=submit]")
        page.click("a.btn-primary")
        page.wait_for_url("**/mail")
        # On a phone's list the compose link sits in the bottom bar, named.
        compose = page.get_by_role("link", name="Nouveau", exact=True)
        assert compose.is_visible()
        _thumb_sized(page, ".bottom-nav a[href='/compose']")
        page.goto(server + "/compose")
        _thumb_sized(page, "#attachments")
        # A second session, so the account page offers to end it.
        with axe_context(browser, "phone") as other:
            other.goto(server + "/login")
            other.fill("#address", user.address)
            other.fill("#password", user.password)
            other.click("button[type=submit]")
            other.fill("#code", pyotp.TOTP(secret).at(int(time.time()) + 30))
            other.click("button[type=submit]")
            other.wait_for_url("**/mail")
            page.goto(server + "/account")
            for button in page.locator("form button[type=submit]").all():
                box = button.bounding_box()
                assert box is not None and box["height"] >= 44, button.inner_text()
            end = page.get_by_role("button", name="Terminer", exact=True)
            assert end.count() == 1
            described = end.get_attribute("aria-describedby")
            assert page.locator(f"#{described}").inner_text().strip()
        # Every field of the account page has a label of its own.
        labels = page.locator("main label").all_inner_texts()
        assert len(labels) == len(set(labels)) >= 2


_FOCUS = """() => {
  const element = document.activeElement, style = getComputedStyle(element);
  return {tag: element.tagName, style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          colour: style.outlineColor,
          page: getComputedStyle(document.documentElement).backgroundColor};
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_focus_is_visible_on_every_control(server: str, browser: Any, theme: str) -> None:
    with axe_context(browser, "tablet") as page:
        page.emulate_media(color_scheme=theme)
        page.goto(server + "/login")
        seen = []
        for _ in range(8):  # address, password, Se connecter, English, then out of the page
            page.keyboard.press("Tab")
            focus = page.evaluate(_FOCUS)
            if focus["tag"] == "BODY":
                break
            seen.append(focus["tag"])
            assert focus["style"] == "solid" and focus["width"] >= 3, focus
            # WCAG 1.4.11: the ring stands out from the page at 3:1 at least.
            assert contrast(focus["colour"], focus["page"]) >= 3, focus
    assert {"INPUT", "BUTTON", "A"} <= set(seen)
