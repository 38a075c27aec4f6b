"""An attacker with the password and many addresses, against the real app, Dovecot and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pyotp
import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.auth.live import password_only_browsers, serve
from tests.auth.test_races import enrol
from tests.auth.test_second_factor import password_step, submit_code
from tests.conftest import OTP_SECRETS, MailUser, fresh_code, new_user, soup
from webmail.app import create_app
from webmail.auth import budget
from webmail.auth.networks import client_network
from webmail.settings import Settings


def from_address(settings: Settings, address: str) -> TestClient:
    return TestClient(create_app(settings), follow_redirects=False, client=(address, 40000))


def wrong_code(user: MailUser) -> str:
    """A code that no step near now accepts (and that spends no step of fresh_code's)."""
    totp = pyotp.TOTP(OTP_SECRETS[user.address])
    near = {totp.at(time.time() + 30 * offset) for offset in range(-2, 3)}
    return next(code for code in ("000000", "111111", "222222") if code not in near)


def alert(response: object) -> str:
    return soup(response.text).find(attrs={"role": "alert"}).get_text()  # type: ignore[attr-defined]


def test_many_networks_share_one_budget_the_owner_still_gets_in(
    settings: Settings, user: MailUser
) -> None:
    codes = enrol(settings, user)  # from "testclient": the owner's known network
    failures = 0
    network = 0
    while failures < budget.ACCOUNT_FAILURES_BEFORE_LOCK:
        network += 1
        with from_address(settings, f"2001:db8:{network:x}::1") as attacker:
            assert password_step(attacker, user) == 303
            for _ in range(2):
                if failures < budget.ACCOUNT_FAILURES_BEFORE_LOCK:
                    assert submit_code(attacker, wrong_code(user)).status_code == 401
                    failures += 1
    # A new network, even with the right code: the account is locked for unknown networks.
    with from_address(settings, "2001:db8:ffff::1") as attacker:
        password_step(attacker, user)
        code = fresh_code(user)
        locked = submit_code(attacker, code)
        assert locked.status_code == 429
        assert "codes de secours" in alert(locked)
        assert attacker.get("/mail").status_code == 303
    # The owner, away from the usual network, with a recovery code...
    with from_address(settings, "198.51.100.7") as travelling:
        password_step(travelling, user)
        used = submit_code(travelling, codes[0])
        assert used.status_code == 303 and used.headers["location"] == "/mail?notice=recovery"
    # ...or at the usual practice with the app (the code refused above was not spent).
    with TestClient(create_app(settings), follow_redirects=False) as practice:
        password_step(practice, user)
        assert submit_code(practice, code).status_code == 303
        assert practice.get("/mail").status_code == 200


@pytest.fixture
def strict(env: dict[str, str]) -> Settings:
    return Settings.from_env({**env, "MSS_LOGIN_MAX_FAILURES": "3"})


@pytest.mark.parametrize(
    ("prefix", "attacker", "same_network", "other_network"),
    [
        ("64", "2001:db8:5:6::1", "2001:db8:5:6:ffff:1:2:3", "2001:db8:5:7::1"),
        ("48", "2001:db8:5:6::1", "2001:db8:5:7::1", "2001:db8:6::1"),
        ("64", "::ffff:192.0.2.9", "192.0.2.9", "192.0.2.10"),
    ],
)
def test_addresses_of_one_network_share_the_lock(
    env: dict[str, str],
    user: MailUser,
    prefix: str,
    attacker: str,
    same_network: str,
    other_network: str,
) -> None:
    settings = Settings.from_env({**env, "MSS_LOGIN_MAX_FAILURES": "3", "MSS_IPV6_PREFIX": prefix})
    with from_address(settings, attacker) as client:
        statuses = [password_step(client, user, "mauvais-mot-de-passe") for _ in range(3)]
        assert statuses == [401, 401, 429]
    with from_address(settings, same_network) as client:
        assert password_step(client, user) == 429  # a neighbour address is the same client
    with from_address(settings, other_network) as client:
        assert password_step(client, user) == 303


def test_client_network() -> None:
    assert client_network("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert client_network("2001:db8:1:2:3:4:5:6", 48) == "2001:db8:1::/48"
    assert client_network("2001:db8::1", 128) == "2001:db8::1/128"
    assert client_network("::ffff:192.0.2.1") == client_network("192.0.2.1") == "192.0.2.1/32"
    assert client_network("fe80::1%eth0") == "fe80::/64"
    assert client_network("testclient") == "testclient"


@pytest.fixture
def patient(env: dict[str, str]) -> Iterator[TestClient]:
    """Locks per address out of the way: only the session's own cap is left."""
    settings = Settings.from_env({**env, "MSS_LOGIN_MAX_FAILURES": "20"})
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def test_one_session_tries_five_codes_then_needs_the_password(
    patient: TestClient, settings: Settings, user: MailUser
) -> None:
    enrol(settings, user)
    password_step(patient, user)
    answers = [submit_code(patient, wrong_code(user)) for _ in range(5)]
    assert [answer.status_code for answer in answers] == [401] * 4 + [429]
    last = answers[-1]
    assert last.template.name == "pages/login.html"
    assert "mot de passe" in alert(last)
    assert 'mss_session=""' in last.headers["set-cookie"]
    assert patient.get("/login/otp").status_code == 303  # the session is gone
    # A new password step gives a new session and new tries.
    assert password_step(patient, user) == 303
    assert submit_code(patient, fresh_code(user)).status_code == 303


def test_guesses_sent_together_from_many_addresses_meet_the_budget(
    stack: Stack, settings: Settings
) -> None:
    """Ten addresses, ten sessions, ten wrong codes at the same instant: only the budget's
    first five are even checked."""

    async def scenario() -> None:
        user = new_user(stack)
        await asyncio.to_thread(enrol, settings, user)
        async with (
            serve(settings) as url,
            password_only_browsers(url, user, 10, spread=True) as browsers,
        ):
            answers = await asyncio.gather(
                *(browser.submit_code(wrong_code(user)) for browser in browsers)
            )
        statuses = sorted(answer.status_code for answer in answers)
        locked = budget.ACCOUNT_FAILURES_BEFORE_LOCK
        assert statuses == [401] * locked + [429] * (10 - locked)

    asyncio.run(scenario())
