"""Icons: one static SVG sprite, referenced by ``<use>``; the markup of each is built once.

A list of 50 rows used to inline every icon's path through a template macro; the browser now
fetches ``static/icons.svg`` once, by its hashed name and cached for good (same origin, so
``img-src 'self'`` allows it), and each icon costs a short ``<use>`` element, looked up here
rather than rendered.
"""

from __future__ import annotations

from functools import cache

from markupsafe import Markup

from webmail.assets import STATIC_ASSETS

_DECORATIVE = Markup(
    '<svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" '
    'focusable="false"><use href="%s#%s"></use></svg>'
)
_LABELLED = Markup(
    '<svg class="icon" viewBox="0 0 24 24" width="20" height="20" role="img" '
    'aria-label="%s" focusable="false"><use href="%s#%s"></use></svg>'
)


@cache
def sprite_url() -> str:
    return STATIC_ASSETS.url("icons.svg")


@cache
def _decorative(name: str) -> Markup:
    return _DECORATIVE % (sprite_url(), name)  # Markup's % escapes what it inserts


def icon(name: str, label: str = "") -> Markup:
    """The icon ``name`` of the sprite; with a label, an image screen readers announce."""
    if not label:
        return _decorative(name)
    return _LABELLED % (label, sprite_url(), name)
