"""The HTML sanitiser on its own (the full path is tested in tests/views/test_message.py)."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from webmail.mail.sanitize import frame_csp, sanitize_html


def clean(html: str, **kwargs: bool) -> BeautifulSoup:
    result = sanitize_html(html, lambda cid: f"/mail/inline?part={cid}", **kwargs)
    return BeautifulSoup(result.html, "html.parser")


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<a href='javascript:alert(1)'>x</a>",
        "<a href='JaVaScRiPt:alert(1)'>x</a>",
        "<a href='data:text/html;base64,PHNjcmlwdD4='>x</a>",
        "<svg><script>alert(1)</script></svg>",
        "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
        "<iframe src='https://evil.example'></iframe>",
        "<object data='x.swf'></object>",
        "<form action='https://evil.example'><input name=p></form>",
        "<meta http-equiv='refresh' content='0;url=https://evil.example'>",
        "<base href='https://evil.example/'>",
        "<div hx-get='/logout' hx-trigger='load'>x</div>",
        "<div data-hx-post='/mail/delete'>x</div>",
        "<button hx-on:click='alert(1)'>x</button>",
        "<p style='background:url(https://evil.example/x)'>x</p>",
        "<p style='width: expression(alert(1))'>x</p>",
        "<style>@import 'https://evil.example/x.css';</style>",
        "<link rel=stylesheet href='https://evil.example/x.css'>",
    ],
)
def test_attacks_are_removed(attack: str) -> None:
    output = str(clean(attack)).lower()
    for marker in (
        "script",
        "onerror",
        "javascript",
        "evil.example",
        "hx-",
        "expression",
        "<iframe",
        "<object",
        "<form",
        "<meta",
        "<base",
        "<link",
        "data:text",
    ):
        assert marker not in output, (attack, output)


def test_remote_images_are_counted_and_removed() -> None:
    result = sanitize_html(
        '<img src="https://t.example/p.gif"><img src="http://t.example/q.gif">', lambda cid: None
    )
    assert result.blocked_remote == 2
    assert "t.example" not in result.html


def test_remote_images_kept_when_asked_but_only_https() -> None:
    result = sanitize_html(
        '<img src="https://cdn.example/a.png"><img src="http://cdn.example/b.png">',
        lambda cid: None,
        allow_remote_images=True,
    )
    assert "https://cdn.example/a.png" in result.html and "b.png" not in result.html


def test_cid_images_point_to_our_own_url() -> None:
    image = clean('<img src="cid:logo@chu" alt="logo">').find("img")
    assert image["src"] == "/mail/inline?part=logo@chu"


def test_links_open_outside_without_referrer() -> None:
    link = clean('<a href="https://www.example.org/">ok</a>').find("a")
    assert link["target"] == "_blank" and set(link["rel"]) == {"noopener", "noreferrer"}


def test_layout_survives() -> None:
    page = clean(
        '<table><tr><td style="color:#c00;font-weight:bold">Hémoglobine</td><td>13,2</td></tr></table>'
    )
    cell = page.find("td")
    assert cell.get_text() == "Hémoglobine" and "color:#c00" in cell["style"].replace(" ", "")


def test_frame_policy_runs_nothing() -> None:
    policy = frame_csp(allow_remote_images=False)
    assert "default-src 'none'" in policy and "script-src" not in policy and "sandbox" in policy
    assert "https:" not in policy
