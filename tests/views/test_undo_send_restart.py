"""Undo send across a crash: an instance killed during the delay (SIGKILL, no shutdown at
all) leaves its scheduled message to the others, which send it exactly once, or not at all
when it was cancelled or its credential no longer works."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import redis

from dev.instances import Instance, start_instance
from dev.stack import Stack
from tests.conftest import MailUser, login, soup, wait_for_messages
from tests.served import free_port, wait_until_responds
from tests.views.forms import browser_form, parse, submit
from tests.views.test_drafts_open import drafts_uids
from tests.views.test_undo_send import count_in, instance, wait_until
from webmail.auth.oidc import PscRefused
from webmail.auth.oidc_claims import Tokens
from webmail.mail.outbox import Outbox
from webmail.mail.sasl import AccessToken
from webmail.mail.scheduled import Schedule
from webmail.mail.send_seal import Credential
from webmail.settings import Settings
from webmail.views import undo_takeover

DELAY = 3


@contextlib.contextmanager
def doomed_instance(env: dict[str, str], tmp_path: Path) -> Iterator[Instance]:
    """A real ``python -m webmail`` process sharing Redis and the secret key."""
    started = start_instance(
        {**env, "MSS_UNDO_SEND_SECONDS": str(DELAY)}, free_port(), tmp_path / "audit.log"
    )
    try:
        wait_until_responds(f"http://127.0.0.1:{started.port}/healthz")
        yield started
    finally:
        started.stop()


def browser_on(doomed: Instance, cookies: httpx.Cookies) -> httpx.Client:
    """The same browser (the same session cookie), its next requests served by ``doomed``."""
    return httpx.Client(
        base_url=f"http://127.0.0.1:{doomed.port}", cookies=cookies, follow_redirects=False
    )


def sealed_key(stack: Stack, account: str, message_id: str) -> tuple[redis.Redis, str]:
    return redis.Redis(port=stack.redis), Schedule.sealed_key(Outbox.key(account, message_id))


def scheduled_on(browser: httpx.Client, to: str, **typed: str) -> tuple[str, str]:
    """Envoyer on the doomed instance; (the undo page's URL, the Message-ID)."""
    form = browser.get("/compose").text
    response = submit(browser, form, to=to, **typed)  # type: ignore[arg-type]
    assert response.status_code == 303, response.text
    undo = response.headers["location"]
    return undo, parse_qs(urlsplit(undo).query)["message_id"][0]


def test_killed_during_the_delay_it_is_sent_once_by_the_other_instances(
    env: dict[str, str],
    settings: Settings,
    stack: Stack,
    user: MailUser,
    other_user: MailUser,
    tmp_path: Path,
) -> None:
    # Two survivors: both recovery passes run at the same time on the orphan.
    with instance(settings, DELAY) as survivor, instance(settings, DELAY) as other:
        login(survivor, user)
        with doomed_instance(env, tmp_path) as doomed, browser_on(doomed, survivor.cookies) as b:
            undo, message_id = scheduled_on(
                b, other_user.address, subject="Compte rendu opératoire", body="Ci-joint."
            )
            client, key = sealed_key(stack, user.address, message_id)
            assert client.exists(key)  # sealed, for the delay
            assert len(drafts_uids(stack, user)) == 1
            doomed.kill()  # SIGKILL, during the delay
        [received] = wait_for_messages(stack, other_user, timeout=20)
        assert parse(received)["Subject"] == "Compte rendu opératoire"
        assert parse(received)["Message-ID"] == message_id
        time.sleep(4)  # two more recovery passes of each survivor
        assert count_in(stack, other_user) == 1
        assert count_in(stack, user, "Sent") == 1
        wait_until(lambda: drafts_uids(stack, user) == [])
        assert not client.exists(key)
        assert not any(True for _ in client.scan_iter("mss:send:sealed:*"))
        other.cookies = survivor.cookies
        assert other.get(undo).headers["location"] == "/mail?folder=INBOX&notice=sent"
        assert soup(survivor.get("/mail").text).select_one(".alert-warning") is None


def test_cancelled_on_another_instance_after_the_first_died_nothing_leaves(
    env: dict[str, str],
    settings: Settings,
    stack: Stack,
    user: MailUser,
    other_user: MailUser,
    tmp_path: Path,
) -> None:
    with instance(settings, DELAY) as survivor:
        login(survivor, user)
        with doomed_instance(env, tmp_path) as doomed, browser_on(doomed, survivor.cookies) as b:
            undo, message_id = scheduled_on(b, other_user.address, subject="Mauvais patient")
            doomed.kill()
        page = soup(survivor.get(undo).text)
        data = {
            "csrf_token": str(page.select_one("input[name=csrf_token]")["value"]),
            "message_id": message_id,
        }
        cancelled = survivor.post("/compose/undo", data=data)
        assert cancelled.status_code == 200, cancelled.text
        assert browser_form(cancelled.text)["subject"] == "Mauvais patient"
        client, key = sealed_key(stack, user.address, message_id)
        assert not client.exists(key)
        time.sleep(DELAY + 4)  # past the due time and several recovery passes
        assert count_in(stack, other_user) == 0
        assert len(drafts_uids(stack, user)) == 1


def test_password_changed_during_the_delay_not_sent_and_said(
    settings: Settings, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    with instance(settings, DELAY) as survivor:
        with instance(settings, DELAY) as doomed:
            login(doomed, user)
            form = doomed.get("/compose").text
            undo = submit(doomed, form, to=other_user.address, subject="Ancien mot de passe")
            undo_url = undo.headers["location"]
            cookies = doomed.cookies
        stack.add_user(user.address, "pw-changed-" + user.password)  # changed meanwhile
        survivor.cookies = cookies

        def declared() -> bool:
            return "not-sent" in survivor.get(undo_url).text

        wait_until(declared, timeout=20)
        alert = soup(survivor.get(undo_url).text).select_one("[role=alert]")
        assert alert is not None and "identification n'était plus valable" in alert.get_text()
        assert count_in(stack, other_user) == 0


class _Provider:
    """Pro Santé Connect's token endpoint, as far as a refresh goes."""

    def __init__(self, refused: bool) -> None:
        self.refused = refused
        self.used: list[str] = []

    async def refresh(self, refresh_token: str, id_token: str) -> Tokens:
        self.used.append(refresh_token)
        if self.refused:
            raise PscRefused("invalid_grant")
        return Tokens("new-access", "new-refresh", id_token, time.time() + 120)


async def test_a_psc_token_is_renewed_once_when_expired_and_refused_means_not_sent() -> None:
    fresh = Credential("psc", "access", "refresh", "id", time.time() + 60)
    expired = Credential("psc", "old-access", "refresh", "id", time.time() - 1)
    ok, refusing = _Provider(refused=False), _Provider(refused=True)
    app: Any = SimpleNamespace(psc=ok)
    usable = await undo_takeover._usable(app, fresh)
    assert usable == "access" and isinstance(usable, AccessToken) and ok.used == []
    renewed = await undo_takeover._usable(app, expired)
    assert renewed == "new-access" and isinstance(renewed, AccessToken)
    assert ok.used == ["refresh"]
    assert await undo_takeover._usable(SimpleNamespace(psc=refusing), expired) is None  # type: ignore[arg-type]
    assert await undo_takeover._usable(SimpleNamespace(psc=None), expired) is None  # type: ignore[arg-type]
    password = await undo_takeover._usable(app, Credential("password", "pw"))
    assert password == "pw" and not isinstance(password, AccessToken)
