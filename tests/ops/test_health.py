"""/healthz: for load balancers; answers from Redis alone, never about mail."""

from __future__ import annotations

from starlette.testclient import TestClient

from dev.stack import Stack


def test_health_says_ok_and_nothing_about_mail(client: TestClient, stack: Stack) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok")
    assert "set-cookie" not in response.headers
    # The IMAP server down does not take the instance out of the load balancer's pool.
    stack.stop_dovecot()
    try:
        assert client.get("/healthz").status_code == 200
    finally:
        stack.start_dovecot()


def test_health_fails_when_redis_is_gone(client: TestClient, stack: Stack) -> None:
    stack.stop_redis()
    try:
        response = client.get("/healthz")
    finally:
        stack.start_redis()
    assert (response.status_code, response.text) == (503, "redis unavailable")
    assert client.get("/healthz").status_code == 200
