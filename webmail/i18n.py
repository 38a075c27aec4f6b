"""French first: source strings are French; English comes from a gettext catalog."""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LANGUAGES = ("fr", "en")
LOCALE_DIR = Path(__file__).parent / "locale"

current_language: ContextVar[str] = ContextVar("current_language", default="fr")


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language == "fr":
        return gettext.NullTranslations()
    return gettext.translation("messages", LOCALE_DIR, languages=[language], fallback=True)


def N_(message: str) -> str:
    """Marks a string for the catalog where it is defined; it is translated where shown."""
    return message


def _(message: str) -> str:
    # gettext("") is the catalog's header, never something to show.
    if not message:
        return ""
    return translations(current_language.get()).gettext(message)


def shown(message: object) -> str:
    """A message as a template shows it: looked up in the catalog, never formatted.

    Views hand templates either an ``N_()`` constant or a string already translated with its
    data formatted in; both come through here. The lookup is plain gettext: no ``%`` applied
    (data such as an address with ``%`` must not be read as a format), and the result is a
    plain ``str``, which the template then escapes (a server's ``<a href>`` stays text).
    """
    if message is None:
        return ""
    return _(str(message))


def ngettext(singular: str, plural: str, count: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, count)


def pick_language(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The user's explicit choice (cookie) wins; otherwise the deployment's default language.

    Accept-Language is deliberately not followed: the product is French first and clinicians'
    phones are often set to English while they expect the French interface.
    """
    del accept_language
    return cookie if cookie in LANGUAGES else default
