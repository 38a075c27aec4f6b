"""Dark mode in Chromium: the system's dark preference changes the page's colours, the light
one keeps them, and form controls follow (color-scheme)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_axe import axe_context, contrast, luminance
from tests.test_browser import browser, server

pytestmark = pytest.mark.browser
__all__ = ["browser", "server"]  # fixtures, shared with the browser tests

_COLOURS = """() => {
  const style = element => getComputedStyle(document.querySelector(element));
  return {
    page: style("body").backgroundColor === "rgba(0, 0, 0, 0)"
      ? style("html").backgroundColor : style("body").backgroundColor,
    card: style(".card").backgroundColor,
    text: style(".card h1").color,
    field: style("#address").backgroundColor,
    scheme: document.querySelector('meta[name="color-scheme"]').content,
  };
}"""


def _colours(page: Any, server: str, theme: str) -> dict[str, str]:
    page.emulate_media(color_scheme=theme)
    page.goto(server + "/login")
    colours: dict[str, str] = page.evaluate(_COLOURS)
    return colours


def test_the_dark_preference_darkens_the_page(server: str, browser: Any) -> None:
    with axe_context(browser, "phone") as page:
        light = _colours(page, server, "light")
        dark = _colours(page, server, "dark")
    assert light["scheme"] == "light dark"
    for role in ("page", "card", "text", "field"):
        assert light[role] != dark[role], role
    assert luminance(light["page"]) > 0.9 and luminance(dark["page"]) < 0.15
    assert luminance(light["text"]) < 0.2 and luminance(dark["text"]) > 0.6
    assert luminance(dark["field"]) < 0.15  # no white field left in a dark page
    assert contrast(dark["text"], dark["card"]) >= 4.5
