"""Security headers on every response, as pure ASGI middleware (no body buffering)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; manifest-src 'self'"
)

_COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def add_security_headers(headers: MutableHeaders, *, is_static: bool = False) -> None:
    """The headers every answer carries; those a response already set are kept.

    Also called directly by the last-resort 500 handler, which Starlette runs outside every
    middleware of ours: an error page carries the CSRF token and must be as protected.
    """
    for name, value in _COMMON.items():
        headers.setdefault(name, value)
    # A view that frames mail sets its own, stricter policy; keep it.
    headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
    if not is_static:
        # Every page may carry health data: never keep it in any cache.
        headers.setdefault("cache-control", "no-store")
        headers.setdefault("pragma", "no-cache")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(MutableHeaders(scope=message), is_static=is_static)
            await send(message)

        await self.app(scope, receive, send_with_headers)
