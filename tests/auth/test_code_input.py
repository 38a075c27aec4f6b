"""What a phone keyboard can put in the code field: only ASCII digits are digits here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.auth.test_second_factor import password_step, submit_code
from tests.conftest import MailUser, form_value, login, soup
from webmail.app import create_app
from webmail.auth import totp
from webmail.settings import Settings

NOT_ASCII_DIGITS = ["１２３４５６", "12345²", "٣٣٣٣٣٣", "1２3456", "¹²³456", "１２３ ４５６"]
WRONG_CODE = "Code incorrect ou déjà utilisé. Saisissez le code actuel de votre application."


@pytest.mark.parametrize("code", NOT_ASCII_DIGITS)
def test_other_digits_are_not_a_code(code: str) -> None:
    assert totp.six_digits(code) is None
    assert totp.code_matches_step(totp.new_secret(), code) is None


def test_codes_may_be_typed_with_spaces() -> None:
    assert totp.six_digits(" 123 456 ") == "123456"
    assert totp.normalise_recovery("ＡＢＣＤＥ-ＦＧＨＪＫ") is None
    assert totp.normalise_recovery("abcde–fghjk") == "ABCDE-FGHJK"  # an en dash from a phone


@pytest.fixture
def lenient(env: dict[str, str]) -> Settings:
    """Locks per address out of the way: the answers to each code are what is tested."""
    return Settings.from_env({**env, "MSS_LOGIN_MAX_FAILURES": "20"})


@pytest.fixture
def patient(lenient: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(lenient), follow_redirects=False) as client:
        yield client


def alert(html: str) -> str:
    return soup(html).find(attrs={"role": "alert"}).get_text()


def test_the_code_step_answers_wrong_code_not_an_error(
    patient: TestClient, lenient: Settings, user: MailUser
) -> None:
    password_step(patient, user)
    enrolling = submit_code(patient, NOT_ASCII_DIGITS[0])  # while enrolling
    assert enrolling.status_code == 401 and enrolling.template.name == "pages/enrol.html"
    patient.cookies.clear()
    login(patient, user)
    with TestClient(create_app(lenient), follow_redirects=False) as other:
        for start in range(0, len(NOT_ASCII_DIGITS), 3):  # a session tries five codes at most
            other.cookies.clear()
            password_step(other, user)
            for code in NOT_ASCII_DIGITS[start : start + 3]:
                answer = submit_code(other, code)
                assert answer.status_code == 401, code
                assert alert(answer.text) == WRONG_CODE


def test_the_account_page_answers_wrong_code_not_an_error(
    patient: TestClient, user: MailUser
) -> None:
    login(patient, user)
    token = form_value(patient.get("/account").text, "csrf_token")
    for path in ("/account/recovery-codes", "/account/otp/reenrol"):
        answer = patient.post(path, data={"csrf_token": token, "code": "１２３４５６"})
        assert answer.status_code == 401
        assert alert(answer.text) == WRONG_CODE


def test_the_code_field_lets_a_recovery_code_through(patient: TestClient, user: MailUser) -> None:
    """The page tells a user without their phone to type a recovery code in this field: the
    browser's own validation must not refuse it."""
    import re

    login(patient, user)
    patient.cookies.clear()
    password_step(patient, user)
    field = soup(patient.get("/login/otp").text).find("input", attrs={"name": "code"})
    pattern = field.get("pattern")
    assert pattern is None or re.fullmatch(pattern, "ABCDE-FGHJK")
    assert int(field["maxlength"]) >= len("abcde - fghjk")
