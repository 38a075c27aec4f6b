"""The second factor, end to end against the real Redis and Dovecot."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest
import redis
from starlette.testclient import TestClient

from dev.stack import Stack
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
from webmail.settings import Settings


def password_step(client: TestClient, user: MailUser, password: str | None = None) -> int:
    return post_password(client, user.address, password or user.password).status_code


def submit_code(client: TestClient, code: str) -> object:
    page = client.get("/login/otp")
    return client.post(
        "/login/otp", data={"csrf_token": form_value(page.text, "csrf_token"), "code": code}
    )


def test_password_alone_opens_nothing(client: TestClient, user: MailUser) -> None:
    assert password_step(client, user) == 303
    for path in ("/mail", "/mail/folders", "/compose", "/account"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login")


def test_enrolment_shows_a_qr_code_and_needs_a_valid_code(
    client: TestClient, user: MailUser
) -> None:
    password_step(client, user)
    page = client.get("/login/otp")
    assert page.template.name == "pages/enrol.html"
    html = soup(page.text)
    assert html.select_one(".qr-box svg") is not None
    secret = otp_secret_shown(page.text)
    assert len(secret) == 32
    wrong = client.post(
        "/login/otp",
        data={
            "csrf_token": form_value(page.text, "csrf_token"),
            "code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111",
        },
    )
    assert wrong.status_code == 401 and wrong.template.name == "pages/enrol.html"
    assert otp_secret_shown(wrong.text) == secret  # the same secret until confirmed
    pending_cookie = client.cookies.get("mss_session")
    done = client.post(
        "/login/otp",
        data={"csrf_token": form_value(page.text, "csrf_token"), "code": pyotp.TOTP(secret).now()},
    )
    assert done.template.name == "pages/recovery_codes.html"
    codes = [code.get_text() for code in soup(done.text).select(".recovery-codes code")]
    assert len(codes) == 10 and len(set(codes)) == 10
    # A new session id after the second factor: the pending one is never promoted.
    assert client.cookies.get("mss_session") != pending_cookie
    assert client.get("/mail").status_code == 200
    client.cookies.clear()
    client.cookies.set("mss_session", pending_cookie)
    assert client.get("/mail").status_code == 303


def test_login_with_a_code_and_no_replay(
    client: TestClient, settings: Settings, user: MailUser
) -> None:
    login(client, user)  # enrols
    with TestClient(create_app(settings), follow_redirects=False) as other:
        code = fresh_code(user)
        password_step(other, user)
        assert submit_code(other, code).status_code == 303
        assert other.get("/mail").status_code == 200
    with TestClient(create_app(settings), follow_redirects=False) as third:
        password_step(third, user)
        replay = submit_code(third, code)
        assert replay.status_code == 401
        assert "déjà utilisé" in soup(replay.text).find(attrs={"role": "alert"}).get_text()
        assert third.get("/mail").status_code == 303


def test_recovery_code_works_once(client: TestClient, settings: Settings, user: MailUser) -> None:
    password_step(client, user)
    page = client.get("/login/otp")
    secret = otp_secret_shown(page.text)
    done = client.post(
        "/login/otp",
        data={"csrf_token": form_value(page.text, "csrf_token"), "code": pyotp.TOTP(secret).now()},
    )
    recovery = soup(done.text).select(".recovery-codes code")[3].get_text()
    with TestClient(create_app(settings), follow_redirects=False) as phone_lost:
        password_step(phone_lost, user)
        used = submit_code(phone_lost, recovery.lower().replace("-", " "))
        assert used.status_code == 303 and used.headers["location"] == "/mail?notice=recovery"
    with TestClient(create_app(settings), follow_redirects=False) as again:
        password_step(again, user)
        assert submit_code(again, recovery).status_code == 401


@pytest.fixture
def quick_locks(env: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings.from_env(
        {**env, "MSS_LOGIN_MAX_FAILURES": "3", "MSS_LOGIN_LOCK_SECONDS": "2"}
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def test_wrong_codes_lock_then_unlock(quick_locks: TestClient, user: MailUser) -> None:
    login(quick_locks, user)
    quick_locks.post(
        "/logout", data={"csrf_token": form_value(quick_locks.get("/compose").text, "csrf_token")}
    )
    password_step(quick_locks, user)
    statuses = [submit_code(quick_locks, "999999").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    code = fresh_code(user)
    locked = submit_code(quick_locks, code)  # even the right code, while locked
    assert locked.status_code == 429
    assert "Réessayez après" in soup(locked.text).find(attrs={"role": "alert"}).get_text()
    time.sleep(2.2)
    assert submit_code(quick_locks, code).status_code == 303  # refused while locked, so unused


def test_password_brute_force_locks_this_client_only(
    quick_locks: TestClient, env: dict[str, str], user: MailUser
) -> None:
    statuses = [password_step(quick_locks, user, "mauvais-mot-de-passe") for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert password_step(quick_locks, user) == 429  # the right password waits too
    settings = Settings.from_env({**env, "MSS_LOGIN_MAX_FAILURES": "3"})
    # The doctor, from their own device elsewhere, is not locked out by the attacker.
    with TestClient(
        create_app(settings), follow_redirects=False, client=("192.0.2.10", 50000)
    ) as own_phone:
        assert password_step(own_phone, user) == 303


def test_redis_holds_neither_password_nor_secret_in_clear(
    client: TestClient, env: dict[str, str], user: MailUser
) -> None:
    login(client, user)
    client.get("/mail")
    store = redis.Redis.from_url(env["MSS_REDIS_URL"])
    dump = b"".join(key + (store.dump(key) or b"") for key in store.keys("*"))
    store.close()
    secret = OTP_SECRETS[user.address]
    for clear in (user.password, secret, secret.lower()):
        assert clear.encode() not in dump
    assert client.cookies.get("mss_session").split(".")[0].encode() not in dump


def test_end_all_other_sessions(client: TestClient, settings: Settings, user: MailUser) -> None:
    login(client, user)
    with TestClient(
        create_app(settings),
        follow_redirects=False,
        headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0"},
    ) as phone:
        login(phone, user)
        page = client.get("/account")
        devices = [item.get_text() for item in soup(page.text).select(".session-device")]
        assert len(devices) == 2 and "Chrome, Android" in devices
        token = form_value(page.text, "csrf_token")
        ended = client.post(
            "/account/sessions/end", data={"csrf_token": token, "session": "others"}
        )
        assert ended.status_code == 303
        assert phone.get("/mail").status_code == 303  # the phone is logged out
        assert client.get("/mail").status_code == 200  # this one goes on
        assert len(soup(client.get("/account").text).select(".session")) == 1


def test_end_one_other_session(client: TestClient, settings: Settings, user: MailUser) -> None:
    login(client, user)
    with TestClient(create_app(settings), follow_redirects=False) as tablet:
        login(tablet, user)
        page = client.get("/account")
        target = form_value(page.text, "session")  # the first "end" form is the other session
        token = form_value(page.text, "csrf_token")
        assert (
            client.post(
                "/account/sessions/end", data={"csrf_token": token, "session": target}
            ).status_code
            == 303
        )
        assert tablet.get("/mail").status_code == 303
        assert client.get("/mail").status_code == 200
        # Ending a session one does not own, or one's own through this form, is refused.
        refused = client.post(
            "/account/sessions/end", data={"csrf_token": token, "session": "0" * 64}
        )
        assert refused.status_code == 404


def test_regenerate_recovery_codes_needs_a_current_code(client: TestClient, user: MailUser) -> None:
    login(client, user)
    page = client.get("/account")
    token = form_value(page.text, "csrf_token")
    refused = client.post("/account/recovery-codes", data={"csrf_token": token, "code": "123"})
    assert refused.status_code == 401
    fresh = client.post(
        "/account/recovery-codes", data={"csrf_token": token, "code": fresh_code(user)}
    )
    assert fresh.template.name == "pages/recovery_codes.html"
    assert len(soup(fresh.text).select(".recovery-codes code")) == 10


def test_reenrolment_replaces_the_secret(client: TestClient, stack: Stack, user: MailUser) -> None:
    login(client, user)
    old_secret = OTP_SECRETS[user.address]
    page = client.get("/account")
    enrol = client.post(
        "/account/otp/reenrol",
        data={"csrf_token": form_value(page.text, "csrf_token"), "code": fresh_code(user)},
    )
    assert enrol.template.name == "pages/enrol.html"
    new_secret = otp_secret_shown(enrol.text)
    assert new_secret != old_secret
    before = client.cookies.get("mss_session")
    done = client.post(
        "/account/otp/enrol",
        data={
            "csrf_token": form_value(enrol.text, "csrf_token"),
            "code": pyotp.TOTP(new_secret).now(),
        },
    )
    assert done.template.name == "pages/recovery_codes.html"
    assert client.cookies.get("mss_session") != before  # privilege change: new session id
    assert client.get("/mail").status_code == 200


@pytest.fixture
def email_otp(env: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings.from_env({**env, "MSS_EMAIL_OTP": "true"})
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def test_code_by_email_to_the_recovery_address(
    email_otp: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    import re

    from tests.conftest import wait_for_messages

    login(email_otp, user)
    page = email_otp.get("/account")
    saved = email_otp.post(
        "/account/recovery-email",
        data={
            "csrf_token": form_value(page.text, "csrf_token"),
            "code": fresh_code(user),
            "recovery_email": other_user.address,
        },
    )
    assert saved.status_code == 303
    email_otp.post("/logout", data={"csrf_token": form_value(page.text, "csrf_token")})

    password_step(email_otp, user)
    code_page = email_otp.get("/login/otp")
    offer = soup(code_page.text).select_one("form.email-otp")
    assert offer is not None and other_user.address[0] + "***@" in offer.get_text()
    sent = email_otp.post(
        "/login/otp/email", data={"csrf_token": form_value(code_page.text, "csrf_token")}
    )
    assert sent.status_code == 200
    again = email_otp.post(
        "/login/otp/email", data={"csrf_token": form_value(code_page.text, "csrf_token")}
    )
    assert again.status_code == 429  # one mail a minute
    mail = wait_for_messages(stack, other_user)[0].decode()
    code = re.search(r"code de connexion : (\d{6})", mail).group(1)
    assert submit_code(email_otp, code).status_code == 303
    assert email_otp.get("/mail").status_code == 200
    email_otp.post(
        "/logout", data={"csrf_token": form_value(email_otp.get("/compose").text, "csrf_token")}
    )
    password_step(email_otp, user)
    assert submit_code(email_otp, code).status_code == 401  # single use


def test_the_emailed_code_speaks_the_language_of_the_page(
    email_otp: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    from email import message_from_bytes
    from email.policy import default

    from tests.conftest import wait_for_messages

    login(email_otp, user)
    page = email_otp.get("/account")
    email_otp.post(
        "/account/recovery-email",
        data={
            "csrf_token": form_value(page.text, "csrf_token"),
            "code": fresh_code(user),
            "recovery_email": other_user.address,
        },
    )
    email_otp.post("/logout", data={"csrf_token": form_value(page.text, "csrf_token")})
    email_otp.get("/language?set=en&next=/login")
    password_step(email_otp, user)
    code_page = email_otp.get("/login/otp")
    sent = email_otp.post(
        "/login/otp/email", data={"csrf_token": form_value(code_page.text, "csrf_token")}
    )
    assert sent.status_code == 200
    mail = message_from_bytes(wait_for_messages(stack, other_user)[0], policy=default)
    assert mail["Subject"] == "Sign-in code for your secure mailbox"
    body = mail.get_body().get_content()  # type: ignore[union-attr]
    assert "Your sign-in code: " in body and "connexion" not in body


def test_no_email_channel_unless_the_deployment_offers_it(
    client: TestClient, user: MailUser
) -> None:
    login(client, user)
    page = client.get("/account")
    assert soup(page.text).select_one("#recovery-email") is None
    refused = client.post(
        "/account/recovery-email",
        data={
            "csrf_token": form_value(page.text, "csrf_token"),
            "code": fresh_code(user),
            "recovery_email": "x@example.org",
        },
    )
    assert refused.status_code == 404
