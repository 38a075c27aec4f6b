"""HTML mail made harmless on the server: an allow-list sanitiser, then a strict frame.

The output is served on its own URL, in a sandboxed iframe with its own CSP, so that even a
sanitiser miss cannot run script, load a remote resource or drive htmx.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import nh3

_TAGS = set(nh3.ALLOWED_TAGS) | {"font", "center", "tfoot"}
_DROPPED_WITH_CONTENT = {
    "script",
    "style",
    "title",
    "head",
    "object",
    "embed",
    "iframe",
    "svg",
    "math",
    "template",
    "noscript",
    "textarea",
    "select",
    "button",
}
_GENERIC_ATTRIBUTES = {
    "style",
    "title",
    "lang",
    "dir",
    "align",
    "valign",
    "width",
    "height",
    "bgcolor",
    "color",
    "border",
    "cellpadding",
    "cellspacing",
    "colspan",
    "rowspan",
    "face",
    "size",
}
_TAG_ATTRIBUTES = {
    "a": {"href"},
    "img": {"src", "alt"},
    "td": {"nowrap"},
    "th": {"nowrap", "scope"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "table": {"summary"},
}
_SAFE_STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "line-height",
    "letter-spacing",
    "white-space",
    "vertical-align",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-collapse",
    "border-spacing",
    "border-radius",
    "width",
    "max-width",
    "min-width",
    "height",
    "list-style-type",
    "direction",
    "display",
}
_IMAGE_DATA_URL = re.compile(r"^data:image/(png|gif|jpeg|webp);base64,[a-z0-9+/=\s]+$", re.I)


@dataclass(frozen=True)
class SanitizedHtml:
    html: str
    blocked_remote: int  # remote images removed; the UI offers to show them


def sanitize_html(
    html: str, cid_url: Callable[[str], str | None], *, allow_remote_images: bool = False
) -> SanitizedHtml:
    """Clean ``html``: ``cid:`` images point to ``cid_url(content_id)``, remote ones are dropped
    unless allowed, links open in a new tab without referrer."""
    blocked = 0

    def filter_attribute(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        lowered = value.strip().lower()
        if tag == "img" and attribute == "src":
            if lowered.startswith("cid:"):
                return cid_url(value.strip()[4:].strip("<>"))
            if _IMAGE_DATA_URL.match(value.strip()):
                return value
            if lowered.startswith(("http://", "https://", "//")):
                if allow_remote_images and lowered.startswith("https://"):
                    return value
                blocked += 1
            return None
        if attribute == "href":
            return (
                value
                if lowered.startswith(("http://", "https://", "mailto:", "tel:", "#"))
                else None
            )
        if attribute == "style" and (
            "url(" in lowered or "expression(" in lowered or "\\" in lowered
        ):
            return None
        return value

    cleaned = nh3.clean(
        html,
        tags=_TAGS - _DROPPED_WITH_CONTENT,
        clean_content_tags=_DROPPED_WITH_CONTENT,
        attributes={"*": _GENERIC_ATTRIBUTES, **_TAG_ATTRIBUTES},
        attribute_filter=filter_attribute,
        url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        filter_style_properties=_SAFE_STYLE_PROPERTIES,
        strip_comments=True,
    )
    return SanitizedHtml(html=cleaned, blocked_remote=blocked)


def frame_csp(*, allow_remote_images: bool) -> str:
    """The policy of the frame that shows a mail: nothing runs, nothing leaves but images."""
    images = "'self' data: https:" if allow_remote_images else "'self' data:"
    return (
        f"default-src 'none'; img-src {images}; style-src 'unsafe-inline'; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; "
        # allow-modals lets the reading page print the frame (nothing in it can run).
        "sandbox allow-popups allow-popups-to-escape-sandbox allow-same-origin allow-modals"
    )
