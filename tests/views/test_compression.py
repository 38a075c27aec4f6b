"""gzip and brotli from the app itself: pages, fragments, static files; never event streams,
downloads or binary types."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import brotli
import pytest
from bs4 import BeautifulSoup
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail, soup
from webmail.compression import MINIMUM, CompressionMiddleware, choose_encoding

DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}


def raw_get(client: TestClient, url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    """The answer's headers and its bytes as they came over the wire, not decoded."""
    with client.stream("GET", url, headers=headers) as answer:
        return dict(answer.headers), b"".join(answer.iter_raw())


def without_tokens(html: bytes) -> str:
    """The page less its CSRF tokens, which are masked afresh in every answer."""
    page = BeautifulSoup(html.decode(), "html.parser")
    for field in page.select("input[name=csrf_token]"):
        del field["value"]
    if page.body is not None:
        del page.body["hx-headers"]
    return str(page)


@pytest.mark.parametrize("encoding", ["gzip", "br"])
@pytest.mark.parametrize("fragment", [False, True])
def test_a_page_and_a_fragment_are_compressed_when_asked(
    logged_in: TestClient, stack: Stack, user: MailUser, encoding: str, fragment: bool
) -> None:
    for n in range(3):
        deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, f"Bilan {n}"))
    htmx = {"HX-Request": "true"} if fragment else {}
    headers, body = raw_get(logged_in, "/mail", **{"Accept-Encoding": encoding}, **htmx)
    assert headers["content-encoding"] == encoding
    assert {"hx-request", "accept-encoding"} <= {
        name.strip().lower() for name in headers["vary"].split(",")
    }
    assert int(headers["content-length"]) == len(body)
    plain_headers, plain = raw_get(logged_in, "/mail", **{"Accept-Encoding": "identity"}, **htmx)
    assert "content-encoding" not in plain_headers
    assert "accept-encoding" in plain_headers["vary"].lower()
    decoded = DECODE[encoding](body)
    assert without_tokens(decoded) == without_tokens(plain)
    assert len(body) < len(plain) / 2
    is_fragment = soup(decoded.decode()).find("html") is None
    assert is_fragment == fragment


def test_nothing_compressed_for_a_browser_that_does_not_ask(logged_in: TestClient) -> None:
    headers, body = raw_get(logged_in, "/mail", **{"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert "content-encoding" not in headers
    assert body.lstrip().lower().startswith(b"<!doctype html>")


def test_a_small_answer_is_sent_as_it_is(client: TestClient) -> None:
    headers, body = raw_get(client, "/healthz", **{"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in headers
    assert body == b"ok"


def test_a_streamed_download_is_sent_byte_for_byte(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    table = "".join(f"patient;{n};glycémie;{n % 7}.{n % 10}\n" for n in range(6000)).encode()
    message = simple_mail("labo@labo-demo.mssante.test", user.address, "Résultats")
    message.add_attachment(table, maintype="text", subtype="csv", filename="resultats.csv")
    uid = deliver(stack, user, message)
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    link = soup(page.text).select_one("a.attachment")
    assert link is not None
    headers, body = raw_get(logged_in, str(link["href"]), **{"Accept-Encoding": "gzip, br"})
    assert headers["content-type"].startswith("text/csv")
    assert "content-encoding" not in headers
    assert body == table


def test_a_png_is_not_compressed_again(client: TestClient) -> None:
    headers, body = raw_get(client, "/static/icons/icon-192.png", **{"Accept-Encoding": "gzip, br"})
    assert headers["content-type"] == "image/png"
    assert "content-encoding" not in headers
    assert body.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("accepted", "chosen"),
    [
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("*", "br"),
        ("*;q=0", None),
        ("identity", None),
        ("", None),
        ("gzip;q=nonsense", None),
    ],
)
def test_the_encoding_is_chosen_from_what_the_browser_accepts(
    accepted: str, chosen: str | None
) -> None:
    assert choose_encoding(accepted) == chosen


# -- streamed answers, through the middleware alone ---------------------------------------


async def _run(app: Starlette, accept: str) -> list[Message]:
    """Call the middleware as a server would, keeping every message it sends."""
    sent: list[Message] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"accept-encoding", accept.encode())],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }

    async def receive() -> Message:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await CompressionMiddleware(app)(scope, receive, send)
    return sent


def _streaming_app(chunks: list[bytes], media_type: str, **headers: str) -> Starlette:
    async def stream() -> object:
        for chunk in chunks:
            yield chunk

    async def page(request: object) -> StreamingResponse:
        return StreamingResponse(stream(), media_type=media_type, headers=headers)  # type: ignore[arg-type]

    return Starlette(routes=[Route("/", page)])


async def test_each_streamed_chunk_leaves_compressed_and_whole() -> None:
    chunks = [b"<p>" + bytes([65 + n]) * 800 + b"</p>" for n in range(3)]
    sent = await _run(_streaming_app(chunks, "text/html"), "gzip")
    start, *bodies = sent
    assert dict(start["headers"])[b"content-encoding"] == b"gzip"
    assert b"content-length" not in dict(start["headers"])
    decoder = zlib.decompressobj(31)
    # Each message decodes to its chunk at once: nothing held back for the next one.
    for chunk, message in zip(chunks, bodies, strict=False):
        assert decoder.decompress(message["body"]) == chunk
    assert bodies[-1]["more_body"] is False


@pytest.mark.parametrize(
    ("media_type", "headers"),
    [
        ("text/event-stream", {}),
        ("text/plain", {"content-disposition": 'attachment; filename="a.txt"'}),
        ("application/pdf", {}),
        ("text/html", {"content-encoding": "br"}),
    ],
)
async def test_streams_downloads_and_encoded_answers_pass_as_they_are(
    media_type: str, headers: dict[str, str]
) -> None:
    chunks = [b"x" * MINIMUM, b"y" * MINIMUM]
    sent = await _run(_streaming_app(chunks, media_type, **headers), "gzip, br")
    start_headers = dict(sent[0]["headers"])
    assert start_headers.get(b"content-encoding", b"").decode() == headers.get(
        "content-encoding", ""
    )
    assert [message["body"] for message in sent[1:] if message["body"]] == chunks


async def test_a_strong_etag_becomes_weak_once_compressed() -> None:
    async def page(request: object) -> PlainTextResponse:
        return PlainTextResponse("a" * 2000, headers={"etag": '"abc"'})

    sent = await _run(Starlette(routes=[Route("/", page)]), "br")
    headers = dict(sent[0]["headers"])
    assert headers[b"etag"] == b'W/"abc"'
    assert brotli.decompress(sent[1]["body"]) == b"a" * 2000
