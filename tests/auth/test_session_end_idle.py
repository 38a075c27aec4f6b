"""A page left open must still lock: its own background requests do not reset the idle clock."""

from __future__ import annotations

import time

import redis
from starlette.testclient import TestClient

from tests.conftest import MailUser
from webmail.auth.sessions import KEY_PREFIX, Session, SessionCookie
from webmail.settings import Settings
from webmail.views.common import BACKGROUND_HEADER


def session_key(client: TestClient) -> str:
    cookie = SessionCookie.decode(next(iter(client.cookies.values())))
    assert cookie is not None
    return KEY_PREFIX + cookie.id_hash


def age(settings: Settings, key: str, seconds: float) -> float:
    """Make the session's last activity ``seconds`` old; that time."""
    store = redis.Redis.from_url(settings.redis_url)
    try:
        session = Session.from_json(store.get(key))  # type: ignore[arg-type]
        session.last_seen = time.time() - seconds
        store.set(key, session.to_json(), keepttl=True)
        return session.last_seen
    finally:
        store.close()


def last_seen(settings: Settings, key: str) -> float | None:
    store = redis.Redis.from_url(settings.redis_url)
    try:
        raw = store.get(key)
        return Session.from_json(raw).last_seen if raw is not None else None  # type: ignore[arg-type]
    finally:
        store.close()


def test_the_live_inbox_rows_do_not_reset_the_idle_clock(
    settings: Settings, logged_in: TestClient, user: MailUser
) -> None:
    key = session_key(logged_in)
    then = age(settings, key, 120)
    rows = logged_in.get("/mail", headers={"HX-Request": "true", BACKGROUND_HEADER: "1"})
    assert rows.status_code == 200
    assert last_seen(settings, key) == then  # the rows came, the clock did not move
    # The user's own request does reset it.
    assert logged_in.get("/mail").status_code == 200
    seen = last_seen(settings, key)
    assert seen is not None and seen > then + 100


def test_a_page_left_open_locks_when_idle(
    settings: Settings, logged_in: TestClient, user: MailUser
) -> None:
    key = session_key(logged_in)
    age(settings, key, settings.session_idle_seconds + 1)
    rows = logged_in.get("/mail", headers={"HX-Request": "true", BACKGROUND_HEADER: "1"})
    assert rows.status_code == 401 and rows.headers["HX-Redirect"].startswith("/login")
    assert last_seen(settings, key) is None  # and the session is gone


def test_any_other_header_value_counts_as_activity(
    settings: Settings, logged_in: TestClient
) -> None:
    key = session_key(logged_in)
    then = age(settings, key, 120)
    assert logged_in.get("/mail", headers={BACKGROUND_HEADER: "0"}).status_code == 200
    seen = last_seen(settings, key)
    assert seen is not None and seen > then + 100
