"""Enrolling the second factor (webmail/views/enrolment.py): the otpauth:// link beside the
QR code carries the same URI, the key is grouped for typing, and the secret is never logged."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from starlette.testclient import TestClient

from tests.conftest import (
    OTP_SECRETS,
    MailUser,
    form_value,
    fresh_code,
    login,
    otp_secret_shown,
    post_password,
    soup,
)
from webmail.app import create_app
from webmail.auth import totp
from webmail.settings import Settings
from webmail.views.enrolment import secret_groups


def _link_matches_qr(html: str, account: str) -> str:
    """Checks the page's link against its QR code and key; returns the secret."""
    page = soup(html)
    href = str(page.select_one("#otpauth-link")["href"])
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == f"/MSSanté:{account}"
    query = parse_qs(parts.query)
    secret = otp_secret_shown(html)
    assert query == {"secret": [secret], "issuer": ["MSSanté"]}
    drawn = [path["d"] for path in page.select(".qr-box svg path")]
    assert drawn == [path["d"] for path in soup(totp.qr_svg(href)).select("path")]
    groups = [span.get_text() for span in page.select("#secret span")]
    assert groups == secret_groups(secret)
    return secret


def test_the_link_carries_the_qr_codes_uri(client: TestClient, user: MailUser) -> None:
    post_password(client, user.address, user.password)
    page = client.get("/login/otp")
    assert page.template.name == "pages/enrol.html"
    _link_matches_qr(page.text, user.address)
    # Changing phone later shows a link for the new secret.
    login(client, user)
    account = client.get("/account")
    enrol = client.post(
        "/account/otp/reenrol",
        data={"csrf_token": form_value(account.text, "csrf_token"), "code": fresh_code(user)},
    )
    assert _link_matches_qr(enrol.text, user.address) != OTP_SECRETS[user.address]


def test_a_wrong_first_code_shows_the_same_link_again(client: TestClient, user: MailUser) -> None:
    post_password(client, user.address, user.password)
    page = client.get("/login/otp")
    secret = _link_matches_qr(page.text, user.address)
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    again = client.post(
        "/login/otp", data={"csrf_token": form_value(page.text, "csrf_token"), "code": wrong}
    )
    assert again.status_code == 401
    assert _link_matches_qr(again.text, user.address) == secret


def test_groups_of_four() -> None:
    assert secret_groups("ABCDEFGHIJ") == ["ABCD", "EFGH", "IJ"]
    assert secret_groups("") == []


def test_the_secret_is_never_logged(
    env: dict[str, str],
    user: MailUser,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    audit = tmp_path / "audit.log"
    settings = Settings.from_env({**env, "MSS_AUDIT_LOG": str(audit)})
    caplog.set_level(logging.DEBUG)
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        post_password(client, user.address, user.password)
        page = client.get("/login/otp")
        secret = otp_secret_shown(page.text)
        done = client.post(
            "/login/otp",
            data={
                "csrf_token": form_value(page.text, "csrf_token"),
                "code": pyotp.TOTP(secret).now(),
            },
        )
        assert done.template.name == "pages/recovery_codes.html"
    captured = capfd.readouterr()
    written = audit.read_text()
    assert "otp_enrolled" in written  # the audit log did record the enrolment
    for where in (written, captured.out, captured.err, caplog.text):
        assert secret not in where and "otpauth" not in where
