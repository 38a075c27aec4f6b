"""The real app served by uvicorn on a loopback port, and browsers that talk to it over HTTP:
requests sent together really run at the same time, interleaved at every Redis round trip."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator, Iterator

import httpx2
import uvicorn
from bs4 import BeautifulSoup
from starlette.applications import Starlette

from tests.conftest import MailUser
from webmail.app import create_app
from webmail.settings import Settings


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # leave Ctrl-C to pytest


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[str]:
    """Run the webmail in this event loop; yields its base URL."""
    async with serve_app(create_app(settings)) as url:
        yield url


@contextlib.asynccontextmanager
async def serve_app(app: Starlette) -> AsyncIterator[str]:
    """Run ``app`` in this event loop (its state stays at hand); yields its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="on", log_level="warning", http="h11", ws="none")
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()  # the start failed: say why
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        listener.close()


def field(html: str, name: str) -> str:
    found = BeautifulSoup(html, "html.parser").find("input", attrs={"name": name})
    assert found is not None, f"no input named {name}"
    return str(found.get("value", ""))


_sources = itertools.count(1)


def new_source_address() -> str:
    """A loopback address of its own (127.77.x.y): the webmail sees each group of browsers
    as a client of its own, and one test's failures never lock another's."""
    n = next(_sources)
    return f"127.77.{n // 250}.{n % 250 + 1}"


class Browser:
    """One browser: its own cookies, so its own session; ``source`` is its client address."""

    def __init__(self, base_url: str, source: str) -> None:
        self.http = httpx2.AsyncClient(
            base_url=base_url,
            follow_redirects=False,
            timeout=30,
            transport=httpx2.AsyncHTTPTransport(local_address=source),
        )
        self.csrf = ""
        self.page = ""  # the second-factor page after the password step

    async def password_step(self, user: MailUser) -> None:
        page = await self.http.get("/login")
        answer = await self.http.post(
            "/login",
            data={
                "address": user.address,
                "password": user.password,
                "login_token": field(page.text, "login_token"),
            },
        )
        assert answer.status_code == 303, answer.text
        otp_page = await self.http.get("/login/otp")
        assert otp_page.status_code == 200, otp_page.text
        self.page = otp_page.text
        self.csrf = field(otp_page.text, "csrf_token")

    async def submit_code(self, code: str) -> httpx2.Response:
        return await self.http.post("/login/otp", data={"csrf_token": self.csrf, "code": code})

    async def close(self) -> None:
        await self.http.aclose()


@contextlib.asynccontextmanager
async def password_only_browsers(
    base_url: str, user: MailUser, count: int, *, spread: bool = False
) -> AsyncIterator[list[Browser]]:
    """``count`` browsers, each holding its own password-only session for ``user``: all on
    one new client address, or each on its own (``spread``, a distributed attacker)."""
    source = new_source_address()
    browsers = [Browser(base_url, new_source_address() if spread else source) for _ in range(count)]
    try:
        await asyncio.gather(*(browser.password_step(user) for browser in browsers))
        yield browsers
    finally:
        await asyncio.gather(*(browser.close() for browser in browsers))
