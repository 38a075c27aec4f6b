"""Settings: validated at start, one clear line for each mistake, all documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from webmail.settings import Settings, SettingsError, TlsMode

BASE = {
    "MSS_IMAP_HOST": "imap.example.mssante.fr",
    "MSS_SMTP_HOST": "smtp.example.mssante.fr",
    "MSS_SECRET_KEY": "x" * 40,
    "MSS_DATA_DIR": "/tmp",
}


def test_defaults_follow_mssante() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.imap.port, settings.imap.tls) == (143, TlsMode.STARTTLS)
    assert (settings.smtp.port, settings.smtp.tls) == (587, TlsMode.STARTTLS)
    assert settings.max_upload_bytes == 10 * 1024 * 1024
    assert settings.cookie_secure is True
    assert settings.default_language == "fr"
    assert settings.login_limits.ipv6_prefix == 64  # one subscriber's network


def test_implicit_tls_ports() -> None:
    settings = Settings.from_env({**BASE, "MSS_IMAP_TLS": "implicit", "MSS_SMTP_TLS": "implicit"})
    assert (settings.imap.port, settings.smtp.port) == (993, 465)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"MSS_IMAP_HOST": ""}, "MSS_IMAP_HOST is required"),
        ({"MSS_SECRET_KEY": "short"}, "MSS_SECRET_KEY: must be at least 32"),
        ({"MSS_IMAP_TLS": "ssl"}, "MSS_IMAP_TLS: expected one of"),
        ({"MSS_IMAP_TLS": "none"}, "only allowed towards a loopback host"),
        ({"MSS_SMTP_PORT": "70000"}, "MSS_SMTP_PORT: expected a number from 1 to 65535"),
        ({"MSS_CA_BUNDLE": "/nonexistent/igc-sante.pem"}, "is not a readable file"),
        (
            {"MSS_SESSION_IDLE_MINUTES": "240"},
            "MSS_SESSION_IDLE_MINUTES: expected a number from 1 to 120",
        ),
        ({"MSS_REDIS_URL": "http://x"}, "MSS_REDIS_URL"),
        ({"MSS_COOKIE_SECURE": "peut-être"}, "expected true or false"),
        ({"MSS_DATA_DIR": "/nonexistent"}, "MSS_DATA_DIR: /nonexistent is not a writable directory"),
        ({"MSS_IPV6_PREFIX": "32"}, "MSS_IPV6_PREFIX: expected a number from 48 to 128"),
        ({"MSS_IPV6_PREFIX": "/64"}, "MSS_IPV6_PREFIX: expected a whole number"),
    ],
)
def test_bad_settings_are_named(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({**BASE, **changes})


def test_start_with_a_bad_setting_prints_one_line_not_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "webmail"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "MSS_IMAP_HOST": "x"},
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "MSS_SMTP_HOST is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_setting_is_documented() -> None:
    source = (ROOT / "webmail" / "settings.py").read_text()
    used = set(re.findall(r'"(MSS_[A-Z_]+)"', source)) | {
        f"MSS_{kind}_{suffix}" for kind in ("IMAP", "SMTP") for suffix in ("HOST", "PORT", "TLS")
    }
    documented = set(re.findall(r"^#?\s*(MSS_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert used - documented == set()


@pytest.mark.parametrize(
    ("login_format", "address", "login"),
    [
        ("address", "dr.martin@medecin.mssante.fr", "dr.martin@medecin.mssante.fr"),
        ("localpart", "dr.martin@medecin.mssante.fr", "dr.martin"),
        ("{local}", "dr.martin@medecin.mssante.fr", "dr.martin"),
        ("{local}@{domain}", "dr.martin@medecin.mssante.fr", "dr.martin@medecin.mssante.fr"),
        ("{local}.{domain}", "dr.martin@medecin.mssante.fr", "dr.martin.medecin.mssante.fr"),
        ("{domain}\\{local}", "p.durand@ch-x.mssante.fr", "ch-x.mssante.fr\\p.durand"),
        # The last @ separates the domain, as in a quoted local part.
        ("localpart", '"a@b"@ch-x.mssante.fr', '"a@b"'),
    ],
)
def test_login_name_maps_the_address(login_format: str, address: str, login: str) -> None:
    settings = Settings.from_env({**BASE, "MSS_LOGIN_FORMAT": login_format})
    assert settings.login_name(address) == login


def test_login_name_defaults_to_the_address() -> None:
    settings = Settings.from_env(BASE)
    assert settings.login_format == "address"
    assert settings.login_name("Dr.Martin@medecin.mssante.fr") == "Dr.Martin@medecin.mssante.fr"


@pytest.mark.parametrize(
    "login_format",
    ["local", "{user}", "{local", "{local} {domain}", "{local}:{0}", "{local!r}", "{}{local}", "{domain}"],
)
def test_bad_login_format_is_named(login_format: str) -> None:
    with pytest.raises(SettingsError, match=r"^MSS_LOGIN_FORMAT: expected address, localpart"):
        Settings.from_env({**BASE, "MSS_LOGIN_FORMAT": login_format})


PSC = {
    "MSS_PSC_ENABLED": "true",
    "MSS_PSC_ISSUER": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet/",
    "MSS_PSC_CLIENT_ID": "mss-webmail",
    "MSS_PSC_CLIENT_SECRET": "s" * 32,
    "MSS_PSC_REDIRECT_URI": "https://webmail.example.org/login/psc/callback",
}


def test_pro_sante_connect_is_off_unless_enabled() -> None:
    assert Settings.from_env(BASE).psc is None
    assert Settings.from_env({**BASE, **PSC, "MSS_PSC_ENABLED": "false"}).psc is None


def test_pro_sante_connect_discovery_defaults_to_the_wallet_path() -> None:
    psc = Settings.from_env({**BASE, **PSC}).psc
    assert psc is not None
    assert psc.issuer == "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"
    assert psc.discovery_url == psc.issuer + "/.well-known/wallet-openid-configuration"
    assert psc.mailbox_claim == "email"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"MSS_PSC_ISSUER": ""}, "MSS_PSC_ISSUER is required"),
        ({"MSS_PSC_ISSUER": "http://auth.example.org"}, "MSS_PSC_ISSUER: expected an https://"),
        ({"MSS_PSC_CLIENT_SECRET": ""}, "MSS_PSC_CLIENT_SECRET is required"),
        (
            {"MSS_PSC_REDIRECT_URI": "http://webmail.example.org/login/psc/callback"},
            "MSS_PSC_REDIRECT_URI: expected an https://",
        ),
        ({"MSS_PSC_DISCOVERY_URL": "file:///etc/passwd"}, "MSS_PSC_DISCOVERY_URL: expected"),
    ],
)
def test_bad_pro_sante_connect_settings_are_named(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({**BASE, **PSC, **changes})


def test_the_directory_index_defaults_to_the_data_directory(tmp_path: Path) -> None:
    assert Settings.from_env(BASE).directory.index == Path("/tmp/annuaire.sqlite")  # type: ignore[union-attr]
    chosen = tmp_path / "annuaire-sante.sqlite"
    settings = Settings.from_env({**BASE, "MSS_DIRECTORY_INDEX": str(chosen)})
    assert settings.directory.index == chosen  # type: ignore[union-attr]
    # The index itself need not exist yet: the webmail starts without it.
    assert not chosen.exists()


def test_a_directory_index_in_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MSS_DIRECTORY_INDEX"):
        Settings.from_env({**BASE, "MSS_DIRECTORY_INDEX": str(tmp_path / "no" / "x.sqlite")})
