"""TOTP arithmetic on its own (the flows are in test_second_factor.py)."""

from __future__ import annotations

import pyotp
import pytest

from webmail.auth import totp


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-60, False), (-30, True), (0, True), (30, True), (60, False)]
)
def test_one_step_either_side_and_no_more(offset: int, accepted: bool) -> None:
    secret = totp.new_secret()
    now = 1_800_000_015.0
    code = pyotp.TOTP(secret).at(now + offset)
    step = totp.code_matches_step(secret, code, at=now)
    assert (step is not None) == accepted
    if accepted:
        assert step == int((now + offset) // 30)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_never_match(code: str) -> None:
    assert totp.code_matches_step(totp.new_secret(), code) is None


def test_recovery_codes_are_typed_loosely() -> None:
    assert totp.normalise_recovery(" abcde-fghjk ") == "ABCDE-FGHJK"
    assert totp.normalise_recovery("abcdefghjk") == "ABCDE-FGHJK"


def test_qr_code_is_plain_svg_without_script_or_style() -> None:
    svg = totp.qr_svg(totp.provisioning_uri(totp.new_secret(), "dr.a@medecin.mssante.test"))
    assert svg.startswith("<svg") and "<script" not in svg and "style=" not in svg
