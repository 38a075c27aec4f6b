"""Icons: one static SVG sprite, referenced by ``<use>``; the markup of each is built once.

A list of 50 rows used to inline every icon's path through a template macro; the browser now
fetches ``static/icons.svg`` once (same origin, so ``img-src 'self'`` allows it) and each icon
costs a short ``<use>`` element, looked up here rather than rendered.
"""

from __future__ import annotations

from functools import cache

from markupsafe import Markup, escape

SPRITE_URL = "/static/icons.svg"

_OPEN = '<svg class="icon" viewBox="0 0 24 24" width="20" height="20" '
_CLOSE = ' focusable="false"><use href="' + SPRITE_URL + '#{name}"></use></svg>'


@cache
def _decorative(name: str) -> Markup:
    return Markup(_OPEN + 'aria-hidden="true"' + _CLOSE.format(name=escape(name)))


def icon(name: str, label: str = "") -> Markup:
    """The icon ``name`` of the sprite; with a label, an image screen readers announce."""
    if not label:
        return _decorative(name)
    return Markup(
        _OPEN + f'role="img" aria-label="{escape(label)}"' + _CLOSE.format(name=escape(name))
    )
