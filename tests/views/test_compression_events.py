"""The live inbox's event stream through the compression middleware, served by uvicorn: never
compressed, never held back."""

from __future__ import annotations

import asyncio

import httpx2

from dev.stack import Stack
from tests.auth.live import serve
from tests.conftest import MailUser, deliver, simple_mail
from tests.mail.test_watch import wait_for_sessions
from tests.views.test_events import Stream, live_settings, signed_in


async def test_events_are_neither_compressed_nor_buffered(
    env: dict[str, str], stack: Stack, user: MailUser
) -> None:
    settings = live_settings(env)
    client, cookies = signed_in(settings, user)
    async with (
        serve(settings) as url,
        httpx2.AsyncClient(base_url=url, cookies=cookies, timeout=30) as http,
        http.stream(
            "GET",
            "/mail/events",
            params={"folder": "INBOX"},
            headers={"Accept-Encoding": "gzip, deflate, br"},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        events = Stream(response)
        assert await events.until("unread") == {"unseen": 0}
        assert await wait_for_sessions(stack, user, 2) == 2
        mail = simple_mail("secretariat@chu-demo.mssante.test", user.address, "Compte rendu")
        await asyncio.to_thread(deliver, stack, user, mail)
        # Told while the stream stays open: the event was not held back by a compressor.
        assert await events.until("mail", seconds=6) == {"unseen": 1}
    client.__exit__(None, None, None)
