"""The icon sprite: every icon a template names is in it, each a valid SVG symbol, and the
markup the templates get references it in a way the Content-Security-Policy allows."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree
from starlette.testclient import TestClient

from tests.conftest import soup
from webmail import icons
from webmail.assets import STATIC_DIR
from webmail.security.headers import CONTENT_SECURITY_POLICY
from webmail.templating import TEMPLATES_DIR, templates

SVG = "{http://www.w3.org/2000/svg}"
SHAPES = {"path", "circle", "rect", "line", "polyline", "polygon", "ellipse", "g"}
ICON_CALL = re.compile(r"""\bicon\(\s*["']([^"']+)["']""")


def sprite() -> Element:
    root: Element = ElementTree.parse(STATIC_DIR / "icons.svg").getroot()
    return root


def symbols() -> dict[str, Element]:
    return {s.attrib["id"]: s for s in sprite().iter(f"{SVG}symbol")}


def names_in_templates() -> set[str]:
    found: set[str] = set()
    for path in Path(TEMPLATES_DIR).rglob("*.html"):
        found.update(ICON_CALL.findall(path.read_text(encoding="utf-8")))
    return found


def test_templates_name_icons_at_all() -> None:
    # The parser below must find something, or the next test proves nothing.
    assert {"clip", "star", "reply", "trash"} <= names_in_templates()


def test_every_icon_a_template_names_is_in_the_sprite() -> None:
    missing = names_in_templates() - symbols().keys()
    assert not missing, f"icons missing from static/icons.svg: {sorted(missing)}"


def test_the_sprite_is_an_svg_document_of_symbols() -> None:
    root = sprite()
    assert root.tag == f"{SVG}svg"
    ids = [s.attrib.get("id") for s in root.iter(f"{SVG}symbol")]
    assert len(ids) == len(set(ids)), "an id twice: <use> would pick one of them"


@pytest.mark.parametrize("name", sorted(symbols()))
def test_each_symbol_is_a_valid_drawing(name: str) -> None:
    symbol = symbols()[name]
    assert re.fullmatch(r"[a-z][a-z0-9-]*", name)
    assert symbol.attrib.get("viewBox") == "0 0 24 24"
    children = list(symbol)
    assert children, f"{name} draws nothing"
    for child in children:
        assert child.tag.removeprefix(SVG) in SHAPES, child.tag
        if child.tag == f"{SVG}path":
            assert re.fullmatch(r"[MmLlHhVvCcSsQqTtAaZz0-9.,\s-]+", child.attrib["d"])


def test_the_macro_gives_a_use_of_the_sprite_decorative_or_labelled() -> None:
    template = templates.env.from_string(
        '{% from "partials/_icons.html" import icon %}{{ icon("clip") }}{{ icon("star", label) }}'
    )
    page = soup(template.render(label='Suivi "<b>"'))
    decorative, labelled = page.select("svg.icon")
    assert decorative["aria-hidden"] == "true" and not decorative.has_attr("role")
    assert decorative.select_one("use")["href"] == icons.sprite_url() + "#clip"
    assert labelled["role"] == "img" and labelled["aria-label"] == 'Suivi "<b>"'
    assert labelled.select_one("b") is None  # the label is escaped, not markup
    assert labelled.select_one("use")["href"] == icons.sprite_url() + "#star"


def test_the_markup_is_built_once_per_icon() -> None:
    assert icons.icon("clip") is icons.icon("clip")


def test_the_policy_lets_the_page_use_a_same_origin_sprite() -> None:
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in CONTENT_SECURITY_POLICY.split(";")
    )
    assert "'self'" in directives["img-src"]
    assert icons.sprite_url().startswith("/static/icons.")  # same origin, never a data: URL


def test_the_sprite_is_served_as_svg(client: TestClient) -> None:
    response = client.get(icons.sprite_url())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["x-content-type-options"] == "nosniff"
