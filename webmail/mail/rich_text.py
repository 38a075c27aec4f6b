"""Rich text for a message written with "Mise en forme": a small allow-list, and its text.

Plain text stays the default (what MSSanté clients expect). A message written with the
editor arrives as HTML from the browser, so it is cleaned first, on the server, before it
goes anywhere (the Drafts copy, the message): only paragraphs and line breaks, bold,
italics, bulleted and numbered lists and links (http, https, mailto) survive; scripts,
event handlers, styles, images and every other URL are dropped. It is then sent as
``multipart/alternative``: a text/plain part made from the HTML (lists as "- " or "1. ",
links as "text <url>", paragraphs apart), then the HTML with a few inline styles.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

TAGS = frozenset({"p", "div", "br", "b", "strong", "i", "em", "ul", "ol", "li", "a"})
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_BLOCKS = frozenset({"p", "div", "ul", "ol"})

_CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags={"script", "style", "template", "textarea", "title", "noscript"},
    attributes={"a": {"href"}},
    url_schemes=set(URL_SCHEMES),
    url_relative="deny",  # no base to resolve against: a relative link goes nowhere
    link_rel=None,
    strip_comments=True,
)

# Inline, since mail clients drop style sheets.
_STYLES = {
    "p": "margin:0 0 1em 0",
    "ul": "margin:0 0 1em 0;padding-left:1.5em",
    "ol": "margin:0 0 1em 0;padding-left:1.5em",
}
_BODY_STYLE = "font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.5;color:#1a1a1a"


def sanitise(markup: str) -> str:
    """The allow-listed subset of ``markup``; "" when nothing readable is left."""
    cleaned = _CLEANER.clean(markup).strip()
    return cleaned if to_text(cleaned) else ""


def from_text(text: str) -> str:
    """Plain text as editor HTML: one paragraph per block, its lines kept."""
    blocks = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip("\n"))
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in block.split("\n")) + "</p>"
        for block in blocks
        if block.strip()
    )


def document(clean: str) -> str:
    """The text/html part for sanitised ``clean`` markup: a small page, inline styles."""
    styled = re.sub(
        r"<(p|ul|ol)>", lambda match: f'<{match[1]} style="{_STYLES[match[1]]}">', clean
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
        f'<body style="{_BODY_STYLE}">{styled}</body></html>\n'
    )


def to_text(markup: str) -> str:
    """The text/plain alternative of sanitised markup."""
    parser = _TextMaker()
    parser.feed(markup)
    parser.close()
    return parser.text()


class _TextMaker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.newlines = 0  # how many line ends the text written so far ends with
        self.empty = True  # nothing written yet: no break before the first block
        self.lists: list[list[int]] = []  # per open list: [numbered (0/1), next number]
        self.links: list[tuple[str, int]] = []  # href, the chunk its text starts at

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._write("\n")
        elif tag in _BLOCKS:
            self._break(self._block_gap(tag))
            if tag in ("ul", "ol"):
                self.lists.append([int(tag == "ol"), 1])
        elif tag == "li":
            self._break(1)
            self._write("  " * max(0, len(self.lists) - 1) + self._marker())
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag in _BLOCKS:
            self._break(self._block_gap(tag))
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            shown = href.removeprefix("mailto:")
            if href and shown != label:
                self._write(f" <{shown}>")

    def handle_data(self, data: str) -> None:
        text = re.sub(r"\s+", " ", data)
        if self.empty or self.newlines:
            text = text.lstrip()
        self._write(text)

    def _block_gap(self, tag: str) -> int:
        # Paragraphs stand apart; the editor's own lines (div) and list items follow.
        return 2 if tag == "p" and not self.lists else 1

    def _marker(self) -> str:
        if not self.lists:
            return "- "
        numbered, number = self.lists[-1]
        self.lists[-1][1] += 1
        return f"{number}. " if numbered else "- "

    def _write(self, text: str) -> None:
        if not text:
            return
        self.out.append(text)
        self.empty = False
        stripped = text.rstrip("\n")
        if stripped:
            self.newlines = len(text) - len(stripped)
        else:
            self.newlines += len(text)

    def _break(self, lines: int) -> None:
        if not self.empty and self.newlines < lines:
            self._write("\n" * (lines - self.newlines))

    def text(self) -> str:
        lines = [line.rstrip() for line in "".join(self.out).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
