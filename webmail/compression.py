"""gzip and brotli for every text answer of the app, as pure ASGI middleware.

An answer is compressed when the browser says it accepts it, its type is text (HTML, htmx
fragments, CSS, JavaScript, SVG, JSON), it is at least ``MINIMUM`` bytes, and it is not
already encoded. Never compressed: server-sent events (each event must leave at once, and a
compressor holds bytes back), downloads (``Content-Disposition: attachment``: sent as they
are, byte for byte) and binary types (images, PDF: already compressed). A streamed answer is
compressed chunk by chunk, each chunk flushed: nothing waits for the next one.

Pages carry the CSRF token beside text an attacker can mail in: compressing them is safe only
because that token is masked afresh in every answer (see ``webmail.security.csrf``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MINIMUM = 500
_COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/javascript",
    "application/manifest+json",
    "application/xml",
    "image/svg+xml",
)
_NEVER = ("text/event-stream",)
# Fast levels: pages are compressed on every request. Static bundles are compressed once at
# the highest levels (webmail.assets) and pass through here as they are.
GZIP_LEVEL = 6
BROTLI_QUALITY = 4


def choose_encoding(accept_encoding: str) -> str | None:
    """brotli, else gzip, else nothing, from what the browser accepts (``q=0`` refuses)."""
    accepted: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        accepted[name.strip()] = quality
    for encoding in ("br", "gzip"):
        if accepted.get(encoding, accepted.get("*", 0.0)) > 0:
            return encoding
    return None


def compressible(headers: Headers | MutableHeaders) -> bool:
    content_type = headers.get("content-type", "").lower()
    return (
        content_type.startswith(_COMPRESSIBLE)
        and not content_type.startswith(_NEVER)
        and "content-encoding" not in headers
        and not headers.get("content-disposition", "").lower().startswith("attachment")
        and "no-transform" not in headers.get("cache-control", "")
    )


def _compressor(encoding: str) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    """(compress and flush a chunk, finish) for one answer."""
    if encoding == "br":
        brotli_stream = brotli.Compressor(mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY)
        return (lambda data: brotli_stream.process(data) + brotli_stream.flush()), (
            brotli_stream.finish
        )
    gzip_stream = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: the gzip wrapper
    return (lambda data: gzip_stream.compress(data) + gzip_stream.flush(zlib.Z_SYNC_FLUSH)), (
        gzip_stream.flush
    )


class CompressionMiddleware:
    def __init__(self, app: ASGIApp, minimum: int = MINIMUM) -> None:
        self.app = app
        self.minimum = minimum

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        encoding = choose_encoding(Headers(scope=scope).get("accept-encoding", ""))
        await self.app(scope, receive, _Answer(send, encoding, self.minimum).send)


class _Answer:
    """One answer on its way out: its start is held until the first body chunk shows whether
    it is worth compressing (one small chunk is not)."""

    def __init__(self, send: Send, encoding: str | None, minimum: int) -> None:
        self.downstream = send
        self.encoding = encoding
        self.minimum = minimum
        self.start: Message | None = None
        self.compress: Callable[[bytes], bytes] | None = None
        self.finish: Callable[[], bytes] | None = None
        self.decided = False

    async def send(self, message: Message) -> None:
        if self.decided:
            await self._pass(message)
        elif message["type"] == "http.response.start":
            await self._started(message)
        elif message["type"] == "http.response.body" and self.start is not None:
            await self._first_chunk(message)
        else:
            await self._decide_plain()
            await self.downstream(message)

    async def _started(self, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        if not compressible(headers) or message["status"] in (204, 304):
            self.decided = True
            await self.downstream(message)
            return
        # Whether compressed or not, the answer depends on what the browser accepts.
        headers.add_vary_header("Accept-Encoding")
        if self.encoding is None:
            self.decided = True
            await self.downstream(message)
            return
        self.start = message

    async def _first_chunk(self, message: Message) -> None:
        assert self.start is not None and self.encoding is not None
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if not more and len(body) < self.minimum:
            await self._decide_plain()
            await self.downstream(message)
            return
        self.compress, self.finish = _compressor(self.encoding)
        headers = MutableHeaders(scope=self.start)
        headers["content-encoding"] = self.encoding
        etag = headers.get("etag")
        if etag and not etag.startswith("W/"):
            # Another body, so not the same strong validator.
            headers["etag"] = "W/" + etag
        if more:
            del headers["content-length"]
            await self._decide(self.start)
            await self._pass(message)
            return
        compressed = self.compress(body) + self.finish()
        headers["content-length"] = str(len(compressed))
        await self._decide(self.start)
        await self.downstream({"type": "http.response.body", "body": compressed})

    async def _pass(self, message: Message) -> None:
        if message["type"] != "http.response.body" or self.compress is None:
            await self.downstream(message)
            return
        assert self.finish is not None
        data = self.compress(message.get("body", b""))
        if not message.get("more_body", False):
            data += self.finish()
        await self.downstream({**message, "body": data})

    async def _decide_plain(self) -> None:
        if self.start is not None:
            await self._decide(self.start)

    async def _decide(self, start: Message) -> None:
        self.decided = True
        self.start = None
        await self.downstream(start)
