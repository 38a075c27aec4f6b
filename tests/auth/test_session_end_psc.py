"""A Pro Santé Connect page left open: its live watcher logs in again with the session's
freshest access token, not the one the page started with (the provider's tokens expire)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2
from starlette.testclient import TestClient

from dev.psc import PscProvider
from tests.auth.live import serve_app
from tests.conftest import MailUser
from tests.psc_browser import psc_env, sign_in_as
from tests.views.test_events import FAST, stream
from webmail.app import create_app
from webmail.auth.sessions import SessionCookie
from webmail.mail.watch import Watchers
from webmail.settings import Settings


async def test_the_watcher_gets_each_refreshed_token(
    psc: PscProvider, env: dict[str, str], user: MailUser, tmp_path: Path
) -> None:
    settings = Settings.from_env({**psc_env(psc, env, tmp_path / "audit.log"), **FAST})
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as signing_in:
        sign_in_as(signing_in, psc, user.address)
        cookie = signing_in.cookies["mss_session"]
    decoded = SessionCookie.decode(cookie)
    assert decoded is not None
    app = create_app(settings)
    async with (
        serve_app(app) as url,
        httpx2.AsyncClient(base_url=url, cookies={"mss_session": cookie}, timeout=30) as http,
        stream(http) as events,
    ):
        await events.until("unread")
        watchers = app.state.watchers
        assert isinstance(watchers, Watchers)
        watcher = watchers.get(decoded.id_hash)
        assert watcher is not None
        first = watcher.credentials.password
        # The test provider's tokens are always due for refresh: each heartbeat gets one.
        await asyncio.sleep(2.5)
        assert watcher.credentials.password != first
        assert watchers.get(decoded.id_hash) is watcher  # the same watcher, still listening
        # And the page is still served with the session (the refresh kept it signed in).
        assert (await http.get("/mail")).status_code == 200
