"""Installable: a manifest, icons, theme colours, a favicon; and no service worker."""

from __future__ import annotations

import json
import struct

from starlette.testclient import TestClient

from tests.conftest import MailUser, login, soup
from webmail.assets import STATIC_ASSETS


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def check_head(browser: TestClient, html: str) -> None:
    head = soup(html).head
    assert head is not None
    manifest = head.select_one("link[rel=manifest]")
    assert manifest is not None and manifest["href"] == STATIC_ASSETS.url("manifest.webmanifest")
    icon = head.select_one("link[rel=icon]")
    assert icon is not None and icon["type"] == "image/svg+xml"
    assert icon["href"] == STATIC_ASSETS.url("icons/icon.svg")
    assert head.select_one("link[rel=apple-touch-icon]") is not None
    colours = {
        str(meta["media"]): str(meta["content"]) for meta in head.select("meta[name=theme-color]")
    }
    assert set(colours) == {"(prefers-color-scheme: light)", "(prefers-color-scheme: dark)"}
    assert all(colour.startswith("#") for colour in colours.values())
    # Every link of the head answers, with the type it says.
    for link in head.select("link[href]"):
        answer = browser.get(str(link["href"]))
        assert answer.status_code == 200, link
        if link.get("type"):
            assert answer.headers["content-type"].startswith(str(link["type"]))


def test_the_sign_in_page_names_its_manifest_icons_and_theme_colours(client: TestClient) -> None:
    check_head(client, client.get("/login").text)


def test_a_signed_in_page_too(logged_in: TestClient) -> None:
    page = logged_in.get("/mail")
    assert page.status_code == 200
    check_head(logged_in, page.text)


def test_the_manifest_is_complete_and_its_icons_answer(client: TestClient) -> None:
    answer = client.get(STATIC_ASSETS.url("manifest.webmanifest"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/manifest+json")
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    manifest = json.loads(answer.content)
    assert manifest["name"] == "MSSanté — Messagerie"
    assert manifest["short_name"] == "MSSanté"
    assert manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"].startswith("#") and manifest["background_color"].startswith("#")
    sizes = set()
    for icon in manifest["icons"]:
        served = client.get(icon["src"])
        assert served.status_code == 200, icon["src"]
        assert served.headers["content-type"] == icon["type"]
        if icon["type"] == "image/png":
            width, height = png_size(served.content)
            assert icon["sizes"] == f"{width}x{height}"
            sizes.add((width, icon.get("purpose", "any")))
    assert {(192, "any"), (512, "any"), (512, "maskable")} <= sizes
    # The plain name too, as nginx serves it.
    assert (
        client.get("/static/manifest.webmanifest")
        .headers["content-type"]
        .startswith("application/manifest+json")
    )


def test_the_apple_touch_icon_is_180_and_opaque(client: TestClient) -> None:
    data = client.get(STATIC_ASSETS.url("icons/apple-touch-icon.png")).content
    assert png_size(data) == (180, 180)


def test_favicon_answers_before_and_after_sign_in(client: TestClient, user: MailUser) -> None:
    for signed_in in (False, True):
        if signed_in:
            login(client, user)
            assert client.get("/mail").status_code == 200
        answer = client.get("/favicon.ico")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/x-icon"
        assert "no-store" not in answer.headers["cache-control"]
        reserved, kind, count = struct.unpack("<HHH", answer.content[:6])
        assert (reserved, kind) == (0, 1) and count >= 1
        offset = struct.unpack("<I", answer.content[18:22])[0]
        assert png_size(answer.content[offset:])[0] in (16, 32)


def test_robots_are_kept_out(client: TestClient) -> None:
    answer = client.get("/robots.txt")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    lines = answer.text.splitlines()
    assert "User-agent: *" in lines and "Disallow: /" in lines


def test_no_service_worker_is_registered(client: TestClient) -> None:
    """Health data must never land in a browser cache: no script registers a worker."""
    bundle = client.get(STATIC_ASSETS.url("app.js")).content
    assert b"serviceWorker" not in bundle
