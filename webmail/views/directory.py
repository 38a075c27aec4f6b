"""The directory page: look a health professional up and write to them in one tap."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from webmail.directory.extraction import KINDS
from webmail.directory.index import DirectoryIndex, DirectoryUnavailable
from webmail.directory.search import Entry, Query, clean_kind, clean_national_id
from webmail.htmx import vary_on_htmx, wants_fragment
from webmail.i18n import N_
from webmail.templating import render
from webmail.views.common import authenticated, services

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
        "unavailable": UNAVAILABLE if entries is None else None,
        "kinds": KIND_LABELS,
        "folder": None,
    }
    status = 503 if entries is None else 200
    name = "partials/_directory_results.html" if wants_fragment(request) else "pages/directory.html"
    return vary_on_htmx(render(request, name, context, status_code=status))
