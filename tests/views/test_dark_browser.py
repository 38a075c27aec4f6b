"""Dark mode in Chromium: the system's dark preference changes the page's colours, the light
one keeps them, and form controls follow (color-scheme)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_axe import axe_context
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


def _luminance(rgb: str) -> float:
    red, green, blue = (
        int(part) for part in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]
    )
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_the_dark_preference_darkens_the_page(server: str, browser: Any) -> None:
    with axe_context(browser, "phone") as page:
        light = _colours(page, server, "light")
        dark = _colours(page, server, "dark")
    assert light["scheme"] == "light dark"
    for role in ("page", "card", "text", "field"):
        assert light[role] != dark[role], role
    assert _luminance(light["page"]) > 0.9 and _luminance(dark["page"]) < 0.15
    assert _luminance(light["text"]) < 0.2 and _luminance(dark["text"]) > 0.8
    assert _luminance(dark["field"]) < 0.15  # no white field left in a dark page
