"""The directory page (look a health professional up, write in one tap) and the recipient
suggestions of the compose form (recent correspondents first, then the directory)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from webmail import i18n
from webmail.directory import recent, text
from webmail.directory.extraction import KINDS
from webmail.directory.index import DirectoryIndex, DirectoryUnavailable
from webmail.directory.recent import Correspondent
from webmail.directory.search import Entry, Query, clean_kind, clean_national_id
from webmail.htmx import vary_on_htmx, wants_fragment
from webmail.i18n import N_
from webmail.mail.imap import ImapError
from webmail.templating import render
from webmail.views.common import Authenticated, LoginRequired, authenticated, services

log = logging.getLogger(__name__)

MAX_QUERY = 200
PAGE_RESULTS = 20
UNAVAILABLE = N_(
    "Annuaire non disponible : il n'a pas encore été chargé sur ce serveur, ou ne peut pas "
    "être lu. La messagerie fonctionne normalement ; saisissez l'adresse de votre "
    "correspondant."
)
# Shown in the type filter; the codes are the extraction's.
KIND_LABELS = {
    "PER": N_("Personnelle"),
    "ORG": N_("Organisationnelle (service, secrétariat)"),
    "APP": N_("Applicative (logiciel)"),
    "CAB": N_("Cabinet"),
}
assert set(KIND_LABELS) == set(KINDS)


def query_from(request: Request) -> Query:
    params = request.query_params
    return Query(
        text=params.get("q", "")[:MAX_QUERY],
        kind=clean_kind(params.get("type", "")),
        national_id=clean_national_id(params.get("id", "")[:40]),
        limit=PAGE_RESULTS,
    )


async def find(index: DirectoryIndex | None, query: Query) -> list[Entry] | None:
    """The entries found, or None when the directory is unavailable."""
    if index is None:
        return None
    try:
        return await index.search(query)
    except DirectoryUnavailable:
        return None


async def directory_page(request: Request) -> Response:
    await authenticated(request)
    query = query_from(request)
    entries = await find(services(request).directory, query)
    context = {
        "search": query,
        "typed": request.query_params.get("q", "")[:MAX_QUERY],
        "typed_id": request.query_params.get("id", "")[:40],
        "entries": entries or [],
        # As many as a page shows: there may be more, a more precise search would tell.
        "maybe_more": len(entries or []) >= PAGE_RESULTS,
        "unavailable": UNAVAILABLE if entries is None else None,
        "kinds": KIND_LABELS,
        "folder": None,
    }
    status = 503 if entries is None else 200
    name = "partials/_directory_results.html" if wants_fragment(request) else "pages/directory.html"
    return vary_on_htmx(render(request, name, context, status_code=status))


# --- Recipient suggestions under To and Cc --------------------------------------------------

SUGGESTED_RECENT = 5
SUGGESTED_DIRECTORY = 8
MIN_TYPED = 2
RECIPIENT_FIELDS = ("to", "cc")
_SEPARATORS = re.compile(r"[,;]")


@dataclass(frozen=True)
class Suggestion:
    address: str
    name: str
    detail: str


def token_being_typed(value: str) -> str:
    """The last recipient of a field ("a@x.fr, dup" → "dup"): the one being typed."""
    return _SEPARATORS.split(value)[-1].strip()


async def recipient_suggestions(request: Request) -> Response:
    try:
        auth = await authenticated(request)
    except LoginRequired:
        # Never leave the compose form for the login page while the user is typing: the text
        # would be lost. No suggestions; sending says the session ended and keeps the text.
        return Response(status_code=204)
    params = request.query_params
    field = next((name for name in RECIPIENT_FIELDS if name in params), "to")
    typed = token_being_typed(params.get(field, "")[:2000])[:MAX_QUERY]
    context: dict[str, object] = {"field": field, "typed": typed, "recent": [], "found": []}
    if len(typed) >= MIN_TYPED:
        app = services(request)
        context["recent"] = recent = await _recent(request, auth, typed)
        found = await find(app.directory, Query(typed, limit=SUGGESTED_DIRECTORY))
        context["unavailable"] = found is None
        known = {s.address.casefold() for s in recent}
        context["found"] = _from_directory(found or [], known)
    name = "partials/_recipient_suggestions_items.html"
    return vary_on_htmx(render(request, name, context))


async def _recent(request: Request, auth: Authenticated, typed: str) -> list[Suggestion]:
    app = services(request)

    async def load() -> list[Correspondent]:
        async with app.pool.use(auth.key, auth.user, auth.password) as session:
            return await recent.from_sent(session.imap, session.cache)

    try:
        everyone = await app.recent.get(auth.key, load)
    except ImapError as error:
        # The directory alone is still worth showing.
        log.warning("recent correspondents unavailable: %s", type(error).__name__)
        return []
    words = text.words(typed)
    matching = [c for c in everyone if c.matches(words)][:SUGGESTED_RECENT]
    return [Suggestion(c.address, c.name, c.address if c.name else "") for c in matching]


def _from_directory(entries: list[Entry], known: set[str]) -> list[Suggestion]:
    found: list[Suggestion] = []
    for entry in entries:
        title = f"{i18n._('Dr')} {entry.name}" if entry.civility == "DR" else entry.name
        for mailbox in entry.addresses:
            if mailbox.address.casefold() in known:
                continue
            known.add(mailbox.address.casefold())
            place = (entry.specialty or entry.profession, mailbox.workplace, mailbox.city)
            detail = " · ".join([mailbox.address, *(part for part in place if part)])
            found.append(Suggestion(mailbox.address, title, detail))
    return found[:SUGGESTED_DIRECTORY]
