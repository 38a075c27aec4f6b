"""Icons: one static SVG sprite, referenced by ``<use>``; the markup of each is built once.

A list of 50 rows used to inline every icon's path through a template macro; the browser now
fetches ``static/icons.svg`` once (same origin, so ``img-src 'self'`` allows it) and each icon
costs a short ``<use>`` element, looked up here rather than rendered.
"""

from __future__ import annotations

from functools import cache

from markupsafe import Markup

SPRITE_URL = "/static/icons.svg"

_DECORATIVE = Markup(
    '<svg class="icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" '
    'focusable="false"><use href="{sprite}#{name}"></use></svg>'
)
_LABELLED = Markup(
    '<svg class="icon" viewBox="0 0 24 24" width="20" height="20" role="img" '
    'aria-label="{label}" focusable="false"><use href="{sprite}#{name}"></use></svg>'
)


@cache
def _decorative(name: str) -> Markup:
    return _DECORATIVE.format(sprite=SPRITE_URL, name=name)  # format() escapes its arguments


def icon(name: str, label: str = "") -> Markup:
    """The icon ``name`` of the sprite; with a label, an image screen readers announce."""
    if not label:
        return _decorative(name)
    return _LABELLED.format(sprite=SPRITE_URL, name=name, label=label)
