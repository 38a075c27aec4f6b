"""One code, one session: the same TOTP code, recovery code or emailed code sent from ten
password-only sessions at the same instant opens exactly one mailbox.

The webmail runs under uvicorn on a loopback port and the ten requests travel over real
sockets together, so they interleave at each Redis round trip as they would in production.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

import pyotp
import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.auth.live import Browser, password_only_browsers, serve
from tests.conftest import (
    OTP_SECRETS,
    MailUser,
    form_value,
    fresh_code,
    new_user,
    otp_secret_shown,
    post_password,
    soup,
    wait_for_messages,
)
from webmail.app import create_app
from webmail.settings import Settings

ROUNDS = 3
SESSIONS = 10


def enrol(settings: Settings, user: MailUser, recovery_email: str = "") -> list[str]:
    """Enrol ``user`` as at a first login; returns the recovery codes shown."""
    with TestClient(create_app(settings), follow_redirects=False) as client:
        post_password(client, user.address, user.password)
        page = client.get("/login/otp")
        OTP_SECRETS[user.address] = otp_secret_shown(page.text)
        done = client.post(
            "/login/otp",
            data={"csrf_token": form_value(page.text, "csrf_token"), "code": fresh_code(user)},
        )
        codes = [code.get_text() for code in soup(done.text).select(".recovery-codes code")]
        if recovery_email:
            account = client.get("/account")
            saved = client.post(
                "/account/recovery-email",
                data={
                    "csrf_token": form_value(account.text, "csrf_token"),
                    "code": fresh_code(user),
                    "recovery_email": recovery_email,
                },
            )
            assert saved.status_code == 303, saved.text
    assert len(codes) == 10
    return codes


async def race(
    url: str, user: MailUser, code: str | Callable[[Browser], Awaitable[str]]
) -> list[tuple[int, str]]:
    """Ten password-only sessions submit the code together (``code`` may be a coroutine that
    gets it through the first session); each one's answer, and whether it opens the mailbox.
    """
    async with password_only_browsers(url, user, SESSIONS) as browsers:
        if not isinstance(code, str):
            code = await code(browsers[0])
        answers = await asyncio.gather(*(browser.submit_code(code) for browser in browsers))
        inboxes = await asyncio.gather(*(browser.http.get("/mail") for browser in browsers))
    assert sum(inbox.status_code == 200 for inbox in inboxes) == sum(
        answer.status_code == 303 for answer in answers
    )
    return [(answer.status_code, answer.headers.get("location", "")) for answer in answers]


def winners(answers: list[tuple[int, str]]) -> list[str]:
    return [location for status, location in answers if status == 303]


def test_one_totp_code_opens_one_session(stack: Stack, settings: Settings) -> None:
    async def scenario() -> None:
        async with serve(settings) as url:
            for _ in range(ROUNDS):
                user = new_user(stack)
                await asyncio.to_thread(enrol, settings, user)
                answers = await race(url, user, fresh_code(user))
                assert winners(answers) == ["/mail"], answers
                # The others: a replay (401), or over the account's budget of tries (429).
                assert {status for status, _ in answers if status != 303} <= {401, 429}

    asyncio.run(scenario())


def test_one_recovery_code_opens_one_session(stack: Stack, settings: Settings) -> None:
    async def scenario() -> None:
        async with serve(settings) as url:
            for _ in range(ROUNDS):
                user = new_user(stack)
                codes = await asyncio.to_thread(enrol, settings, user)
                answers = await race(url, user, codes[0])
                assert winners(answers) == ["/mail?notice=recovery"], answers

    asyncio.run(scenario())


@pytest.fixture
def email_settings(env: dict[str, str]) -> Settings:
    return Settings.from_env({**env, "MSS_EMAIL_OTP": "true"})


def emailed_code(stack: Stack, mailbox: MailUser, count: int = 1) -> str:
    mail = wait_for_messages(stack, mailbox, count=count)[-1].decode()
    found = re.search(r"code de connexion : (\d{6})", mail)
    assert found is not None
    return found.group(1)


def test_one_emailed_code_opens_one_session(stack: Stack, email_settings: Settings) -> None:
    async def scenario() -> None:
        async with serve(email_settings) as url:
            for _ in range(ROUNDS):
                user, mailbox = new_user(stack), new_user(stack, "infirmier.mssante.test")
                await asyncio.to_thread(enrol, email_settings, user, mailbox.address)

                async def ask_by_email(asker: Browser, mailbox: MailUser = mailbox) -> str:
                    sent = await asker.http.post(
                        "/login/otp/email", data={"csrf_token": asker.csrf}
                    )
                    assert sent.status_code == 200, sent.text
                    return await asyncio.to_thread(emailed_code, stack, mailbox)

                answers = await race(url, user, ask_by_email)
                assert winners(answers) == ["/mail"], answers

    asyncio.run(scenario())


def test_many_logins_asking_for_an_email_send_one(stack: Stack, email_settings: Settings) -> None:
    """The resend limit is the account's: five sessions asking together get one email."""

    async def scenario() -> None:
        user, mailbox = new_user(stack), new_user(stack, "infirmier.mssante.test")
        await asyncio.to_thread(enrol, email_settings, user, mailbox.address)
        async with (
            serve(email_settings) as url,
            password_only_browsers(url, user, 5) as browsers,
        ):
            asked = await asyncio.gather(
                *(b.http.post("/login/otp/email", data={"csrf_token": b.csrf}) for b in browsers)
            )
            assert sorted(answer.status_code for answer in asked) == [200, 429, 429, 429, 429]
            refused = next(answer for answer in asked if answer.status_code == 429)
            alert = soup(refused.text).find(attrs={"role": "alert"}).get_text()
            assert "Attendez une minute" in alert
            # A later request from yet another session is still within the minute.
            async with password_only_browsers(url, user, 1) as (late,):
                again = await late.http.post("/login/otp/email", data={"csrf_token": late.csrf})
                assert again.status_code == 429
        await asyncio.to_thread(emailed_code, stack, mailbox)
        await asyncio.sleep(1.5)  # anything else would have arrived by now
        assert len(await asyncio.to_thread(wait_for_messages, stack, mailbox)) == 1

    asyncio.run(scenario())


def test_two_first_enrolments_at_once_one_wins_none_is_swapped_in(
    stack: Stack, settings: Settings
) -> None:
    """Two password-only sessions, each shown its own new secret, confirm together: one
    enrolment is stored, the other is refused instead of silently replacing it."""

    async def scenario() -> None:
        user = new_user(stack)
        async with serve(settings) as url, password_only_browsers(url, user, 2) as browsers:
            secrets_shown = [otp_secret_shown(browser.page) for browser in browsers]
            assert secrets_shown[0] != secrets_shown[1]
            answers = await asyncio.gather(
                *(
                    browser.submit_code(pyotp.TOTP(secret).now())
                    for browser, secret in zip(browsers, secrets_shown, strict=True)
                )
            )
            statuses = sorted(answer.status_code for answer in answers)
            # The loser finds the account enrolled while confirming (409) or just before,
            # when its code is then checked against the winner's secret (401).
            assert statuses in ([200, 401], [200, 409]), statuses
            winner = next(i for i, answer in enumerate(answers) if answer.status_code == 200)
            assert soup(answers[winner].text).select(".recovery-codes code")
        # The factor stored is the winner's: its next code opens the mailbox.
        next_code = pyotp.TOTP(secrets_shown[winner]).at(time.time() + 30)
        with TestClient(create_app(settings), follow_redirects=False) as client:
            post_password(client, user.address, user.password)
            page = client.get("/login/otp")
            assert page.template.name == "pages/otp.html"
            done = client.post(
                "/login/otp",
                data={"csrf_token": form_value(page.text, "csrf_token"), "code": next_code},
            )
            assert done.status_code == 303

    asyncio.run(scenario())


def test_an_enrolment_sent_twice_is_not_another_device(stack: Stack, settings: Settings) -> None:
    async def scenario() -> None:
        user = new_user(stack)
        async with serve(settings) as url, password_only_browsers(url, user, 1) as (browser,):
            code = pyotp.TOTP(otp_secret_shown(browser.page)).now()
            answers = await asyncio.gather(browser.submit_code(code), browser.submit_code(code))
            statuses = sorted(answer.status_code for answer in answers)
            # The second tap finds the enrolment being stored (fresh codes for the same secret,
            # 200), done (its code then already used, 401) or the session replaced (303); it is
            # never taken for another device's enrolment (409), nor an error.
            assert statuses[0] == 200 and statuses[1] in (200, 303, 401), statuses

    asyncio.run(scenario())
