"""What the app answers under /static/, and the two files browsers and robots ask for by name.

Hashed names come from memory (webmail.assets), already compressed, cached for a year;
other names from the directory through Starlette's StaticFiles, cached five minutes.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from webmail.assets import BRIEFLY, IMMUTABLE, STATIC_ASSETS, STATIC_DIR, Asset, Assets
from webmail.compression import choose_encoding


class StaticAssets:
    """The ASGI app mounted at /static."""

    def __init__(self, assets: Assets = STATIC_ASSETS) -> None:
        self.assets = assets
        self.files = StaticFiles(directory=assets.directory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            found = self.assets.by_hashed_name(scope["path"].removeprefix("/static/"))
            if found is not None:
                asset, current = found
                await hashed_answer(Request(scope), asset, current)(scope, receive, send)
                return

        async def briefly_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                MutableHeaders(scope=message).setdefault("cache-control", BRIEFLY)
            await send(message)

        await self.files(scope, receive, briefly_cached)


def hashed_answer(request: Request, asset: Asset, current: bool) -> Response:
    headers = {
        # A hash this build does not know (a page of another release): this build's content,
        # which must not be kept under that name.
        "cache-control": IMMUTABLE if current else "no-cache",
        "etag": asset.etag,
        "x-content-type-options": "nosniff",
        "vary": "Accept-Encoding",
    }
    if current and _already_has(request.headers, asset.etag):
        return Response(status_code=304, headers=headers)
    encoding = choose_encoding(request.headers.get("accept-encoding", ""))
    if not asset.compressible:
        encoding = None
    if encoding is not None:
        headers["content-encoding"] = encoding
    return Response(asset.encoded(encoding), headers=headers, media_type=asset.media_type)


def _already_has(headers: Headers, etag: str) -> bool:
    asked = headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in asked.split(","))


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico on every site, whatever the page's icon links say."""
    return _file_response("icons/favicon.ico", "image/x-icon")


async def robots(request: Request) -> Response:
    # A private webmail: nothing to index, not even the sign-in page.
    return Response(
        "User-agent: *\nDisallow: /\n",
        media_type="text/plain",
        headers={"cache-control": "public, max-age=86400"},
    )


def _file_response(name: str, media_type: str) -> Response:
    body = (STATIC_DIR / name).read_bytes()
    return Response(body, media_type=media_type, headers={"cache-control": "public, max-age=86400"})
