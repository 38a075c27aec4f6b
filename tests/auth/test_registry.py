"""The registry of enrolled accounts outlives both Redis and the secret key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from tests.auth.test_races import enrol
from tests.auth.test_second_factor import password_step, submit_code
from tests.conftest import MailUser, fresh_code, soup
from webmail.app import create_app
from webmail.auth import reset
from webmail.auth.registry import EnrolmentRegistry
from webmail.settings import Settings


def forget_in_redis(env: dict[str, str], account: str) -> None:
    """Lose this account's second factor from Redis (the other tests' keys stay)."""
    store = redis.Redis.from_url(env["MSS_REDIS_URL"])
    base = "mss:totp:" + hashlib.sha256(account.lower().encode()).hexdigest()
    store.delete(base, base + ":step", base + ":recovery", base + ":migrated")
    store.close()


def test_redis_lost_and_key_changed_a_password_alone_never_enrols(
    env: dict[str, str], settings: Settings, user: MailUser
) -> None:
    enrol(settings, user)
    forget_in_redis(env, user.address)
    rotated = Settings.from_env({**env, "MSS_SECRET_KEY": secrets.token_urlsafe(48)})
    with TestClient(create_app(rotated), follow_redirects=False) as attacker:
        assert password_step(attacker, user) == 303
        page = attacker.get("/login/otp")
        assert page.status_code == 403
        assert soup(page.text).select_one(".qr-box") is None
        assert "introuvable" in soup(page.text).get_text()
        assert attacker.get("/mail").status_code == 303


def test_the_file_lists_no_address_and_survives_a_key_change(tmp_path: Path) -> None:
    path = tmp_path / "enrolled-accounts"
    EnrolmentRegistry(path, "a" * 40).add("Dr.Martin@medecin.mssante.test")
    text = path.read_text()
    assert "martin" not in text.lower() and text.startswith("s1:")
    assert (tmp_path / "enrolled-accounts.salt").stat().st_mode & 0o077 == 0
    assert path.stat().st_mode & 0o077 == 0
    assert EnrolmentRegistry(path, "b" * 40).contains("dr.martin@MEDECIN.mssante.test")
    assert not EnrolmentRegistry(path, "b" * 40).contains("dr.durand@medecin.mssante.test")


def test_lines_of_the_earlier_form_still_count_and_are_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "enrolled-accounts"
    old_key = hashlib.sha256(b"mss-webmail enrolment registry\x00" + b"k" * 40).digest()
    line = hmac.new(old_key, b"dr.martin@medecin.mssante.test", hashlib.sha256).hexdigest()
    path.write_text(line + "\n")
    assert EnrolmentRegistry(path, "k" * 40).contains("Dr.Martin@medecin.mssante.test")
    # Met once under the old key, the account is now known under any key.
    assert EnrolmentRegistry(path, "z" * 40).contains("dr.martin@medecin.mssante.test")


def test_the_operator_reset_forgets_one_account(tmp_path: Path) -> None:
    path = tmp_path / "enrolled-accounts"
    registry = EnrolmentRegistry(path, "k" * 40)
    registry.add("a@medecin.mssante.test")
    registry.add("b@medecin.mssante.test")
    assert registry.remove("A@medecin.mssante.test")
    assert not registry.contains("a@medecin.mssante.test")
    assert registry.contains("b@medecin.mssante.test")
    assert not registry.remove("a@medecin.mssante.test")


def test_key_changed_redis_kept_the_user_is_sent_to_support_then_reset(
    env: dict[str, str], settings: Settings, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrol(settings, user)
    rotated_env = {**env, "MSS_SECRET_KEY": secrets.token_urlsafe(48)}
    rotated = Settings.from_env(rotated_env)
    with TestClient(create_app(rotated), follow_redirects=False) as client:
        password_step(client, user)
        refused = client.get("/login/otp")
        assert refused.status_code == 403  # not "wrong code" for a code that cannot be read
        assert "introuvable" in soup(refused.text).get_text()
    # The operator, having called the practice back, resets the account.
    for name, value in rotated_env.items():
        monkeypatch.setenv(name, value)
    assert reset.main([user.address.upper()]) == 0
    with TestClient(create_app(rotated), follow_redirects=False) as client:
        password_step(client, user)
        assert client.get("/login/otp").template.name == "pages/enrol.html"


def test_a_login_rewrites_a_line_of_the_earlier_form(
    env: dict[str, str], settings: Settings, user: MailUser
) -> None:
    enrol(settings, user)
    path = settings.data_dir / "enrolled-accounts"
    old_key = hashlib.sha256(
        b"mss-webmail enrolment registry\x00" + settings.secret_key.encode()
    ).digest()
    legacy = hmac.new(old_key, user.address.lower().encode(), hashlib.sha256).hexdigest()
    current = EnrolmentRegistry(path, settings.secret_key)
    assert current.remove(user.address)
    with path.open("a") as file:
        file.write(legacy + "\n")  # as an earlier version wrote it
    with TestClient(create_app(settings), follow_redirects=False) as client:
        password_step(client, user)
        assert submit_code(client, fresh_code(user)).status_code == 303
    assert EnrolmentRegistry(path, "another key, long enough to be accepted").contains(user.address)


KEY = "k" * 48


def test_instances_sharing_the_file_see_each_others_enrolments_and_resets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "enrolled-accounts"
    first, second = EnrolmentRegistry(path, KEY), EnrolmentRegistry(path, KEY)
    first.add("a@medecin.mssante.test")
    assert not second.contains("b@medecin.mssante.test")  # second has read the file once
    first.add("b@medecin.mssante.test")
    assert second.contains("b@medecin.mssante.test")  # the appended line is read
    # The operator resets "a" through another instance, then more accounts enrol, so that
    # the file grows past the size second had read: second must not keep the old view.
    assert first.remove("a@medecin.mssante.test")
    for n in range(3):
        first.add(f"c{n}@medecin.mssante.test")
    assert not second.contains("a@medecin.mssante.test")
    assert all(second.contains(f"c{n}@medecin.mssante.test") for n in range(3))
    assert second.contains("b@medecin.mssante.test")


def test_a_line_being_written_is_read_once_whole(tmp_path: Path) -> None:
    path = tmp_path / "enrolled-accounts"
    writer, reader = EnrolmentRegistry(path, KEY), EnrolmentRegistry(path, KEY)
    writer.add("a@medecin.mssante.test")
    token = writer._token("b@medecin.mssante.test")
    with path.open("a", encoding="ascii") as file:
        file.write(token[:20])  # an append caught halfway by a reader
        file.flush()
        assert not reader.contains("b@medecin.mssante.test")
        file.write(token[20:] + "\n")
    assert reader.contains("b@medecin.mssante.test")
    assert reader.contains("a@medecin.mssante.test")
