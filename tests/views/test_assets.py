"""One stylesheet and one script under hashed names, cached for a year; old names still served."""

from __future__ import annotations

import gzip
from pathlib import Path

import brotli
import pytest
from starlette.testclient import TestClient

from tests.conftest import ROOT, soup
from webmail.assets import BUNDLES, IMMUTABLE, SEPARATORS, STATIC_ASSETS, Assets

STATIC = ROOT / "static"


def concatenation(name: str) -> bytes:
    separator = SEPARATORS[Path(name).suffix]
    return separator.join((STATIC / part).read_bytes() for part in BUNDLES[name])


def head_links(html: str) -> tuple[list[str], list[str]]:
    head = soup(html).head
    assert head is not None
    styles = [str(link["href"]) for link in head.select("link[rel=stylesheet]")]
    scripts = [str(script["src"]) for script in head.select("script[src]")]
    return styles, scripts


def test_a_page_loads_one_stylesheet_and_one_script_by_hashed_name(client: TestClient) -> None:
    styles, scripts = head_links(client.get("/login").text)
    assert styles == [STATIC_ASSETS.url("app.css")]
    assert scripts == [STATIC_ASSETS.url("app.js")]
    assert styles[0].startswith("/static/app.") and styles[0] != "/static/app.css"


def test_a_signed_in_page_too(logged_in: TestClient) -> None:
    page = logged_in.get("/mail")
    assert page.status_code == 200
    assert head_links(page.text) == ([STATIC_ASSETS.url("app.css")], [STATIC_ASSETS.url("app.js")])
    # No inline script: the policy allows the app's own files only.
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert not [s for s in soup(page.text).find_all("script") if not s.get("src")]


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("app.js", "application/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8")],
)
def test_a_hashed_bundle_is_immutable_typed_and_the_concatenation(
    client: TestClient, name: str, media_type: str
) -> None:
    answer = client.get(STATIC_ASSETS.url(name), headers={"accept-encoding": "identity"})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == IMMUTABLE
    assert answer.headers["content-type"] == media_type
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in answer.headers
    assert answer.content == concatenation(name)
    assert answer.headers["etag"].strip('"') in STATIC_ASSETS.url(name)


def test_a_bundle_comes_compressed_once_at_the_highest_level(client: TestClient) -> None:
    url = STATIC_ASSETS.url("app.js")
    with client.stream("GET", url, headers={"accept-encoding": "br"}) as answer:
        raw = b"".join(answer.iter_raw())
    assert answer.headers["content-encoding"] == "br"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert brotli.decompress(raw) == concatenation("app.js")
    with client.stream("GET", url, headers={"accept-encoding": "gzip"}) as answer:
        raw = b"".join(answer.iter_raw())
    assert answer.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == concatenation("app.js")
    # Not compressed again on its way out.
    assert raw[:2] == b"\x1f\x8b" and not gzip.decompress(raw).startswith(b"\x1f\x8b")


def test_a_known_etag_is_answered_not_modified(client: TestClient) -> None:
    url = STATIC_ASSETS.url("app.css")
    etag = client.get(url).headers["etag"]
    again = client.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_unhashed_names_still_work_briefly_cached(client: TestClient) -> None:
    for name in ("app.js", "htmx.min.js", "directory.css"):
        answer = client.get(f"/static/{name}", headers={"accept-encoding": "identity"})
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "public, max-age=300"
        assert answer.content == (STATIC / name).read_bytes()


def test_a_hash_of_another_release_gets_todays_content_uncached(client: TestClient) -> None:
    answer = client.get("/static/app.0123456789.css")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.content == concatenation("app.css")


@pytest.mark.parametrize(
    "path", ["/static/nothing.0123456789.css", "/static/..%2Fpyproject.0123456789.toml"]
)
def test_unknown_or_outside_names_are_not_found(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_a_changed_source_changes_the_hash(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("var a = 1;\n")
    (tmp_path / "b.js").write_text("var b = 2;\n")
    bundles = {"all.js": ("a.js", "b.js")}
    before = Assets(tmp_path, bundles).url("all.js")
    assert Assets(tmp_path, bundles).url("all.js") == before
    (tmp_path / "b.js").write_text("var b = 3;\n")
    after = Assets(tmp_path, bundles).url("all.js")
    assert after != before
    assert after.startswith("/static/all.") and after.endswith(".js")


def test_a_bundle_missing_a_part_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("var a = 1;\n")
    with pytest.raises(LookupError):
        Assets(tmp_path, {"all.js": ("a.js", "gone.js")}).url("all.js")
