"""What an htmx request asks for, and the answers only htmx understands."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


def wants_fragment(request: Request) -> bool:
    """A fragment only for a real htmx swap: not a boosted navigation, not a history restore."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def client_redirect(url: str, status: int = 200) -> Response:
    """Make htmx load ``url`` as a full page instead of swapping it into a fragment."""
    return Response(status_code=status, headers={"HX-Redirect": url})


def vary_on_htmx(response: Response) -> Response:
    vary = response.headers.get("vary")
    response.headers["vary"] = f"{vary}, HX-Request" if vary else "HX-Request"
    return response
