"""Prometheus metrics: on their own listener only, by route template, moving with use."""

from __future__ import annotations

import dataclasses
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.conftest import TEST_BASE_PORT, MailUser, csrf_token, login, post_password, soup
from webmail.app import create_app
from webmail.ops.metrics_config import MetricsConfig
from webmail.settings import Settings

PORT = TEST_BASE_PORT + 472
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def measured(settings: Settings) -> Iterator[TestClient]:
    configured = dataclasses.replace(settings, metrics=MetricsConfig(listen=("127.0.0.1", PORT)))
    with TestClient(
        create_app(configured), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        yield client


def scrape() -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_counters_move_after_a_login_and_a_send(
    measured: TestClient, user: MailUser, other_user: MailUser
) -> None:
    before = scrape()
    assert post_password(measured, user.address, "wrong-password").status_code == 401
    login(measured, user)
    assert measured.get("/mail", params={"folder": "Dossier patient Dupont"}).status_code == 404
    assert measured.get("/mail").status_code == 200
    sent = measured.post(
        "/compose",
        data={
            "csrf_token": csrf_token(measured),
            "mode": "new",
            "action": "send",
            "to": other_user.address,
            "subject": "Mesuré",
            "body": "Texte",
        },
    )
    assert sent.status_code == 303, soup(sent.text).get_text()[:300]
    after = scrape()
    assert value(after, "mss_logins_total", method="password", result="refused") == 1 + value(
        before, "mss_logins_total", method="password", result="refused"
    )
    assert value(after, "mss_logins_total", method="enrolment", result="ok") >= 1
    assert value(after, "mss_smtp_sends_total", outcome="ok") == 1 + value(
        before, "mss_smtp_sends_total", outcome="ok"
    )
    assert value(after, "mss_http_requests_total", route="/mail", method="GET", status="200") >= 1
    assert value(after, "mss_http_requests_total", route="/mail", method="GET", status="404") >= 1
    assert value(after, "mss_http_request_duration_seconds_count", route="/mail", method="GET") >= 1
    assert value(after, "mss_imap_connections_open") >= 1
    # Labels carry route templates, never what a URL holds (folder names, addresses).
    labels = " ".join(v for _, pairs in after for _, v in pairs)
    assert "Dupont" not in labels and user.address not in labels and "?" not in labels


def test_the_public_app_serves_no_metrics(measured: TestClient) -> None:
    response = measured.get("/metrics")
    assert response.status_code == 404
    assert (
        value(scrape(), "mss_http_requests_total", route="other", method="GET", status="404") >= 1
    )


def test_metrics_are_off_by_default(client: TestClient, settings: Settings) -> None:
    assert settings.metrics.listen is None
    with pytest.raises(OSError):
        scrape()
