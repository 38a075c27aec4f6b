"""Settings: validated at start, one clear line for each mistake, all documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from webmail.settings import Settings, SettingsError, TlsMode
from webmail.trust.policy import OutsidePolicy

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
    assert settings.undo.seconds == 10


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
        (
            {"MSS_DATA_DIR": "/nonexistent"},
            "MSS_DATA_DIR: /nonexistent is not a writable directory",
        ),
        ({"MSS_IPV6_PREFIX": "32"}, "MSS_IPV6_PREFIX: expected a number from 48 to 128"),
        ({"MSS_IPV6_PREFIX": "/64"}, "MSS_IPV6_PREFIX: expected a whole number"),
        (
            {"MSS_TRUSTED_PROXIES": "127.0.0.1, nginx.local"},
            "MSS_TRUSTED_PROXIES: not an address or a CIDR block: 'nginx.local'",
        ),
        ({"MSS_UNDO_SECONDS": "0"}, "MSS_UNDO_SECONDS: expected a number from 1 to 120"),
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
    [
        "local",
        "{user}",
        "{local",
        "{local} {domain}",
        "{local}:{0}",
        "{local!r}",
        "{}{local}",
        "{domain}",
    ],
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
        # Loopback http passes nowhere for the provider: every call to it is https only,
        # so it would fail at the first sign-in instead of at start.
        (
            {"MSS_PSC_DISCOVERY_URL": "http://localhost:8080/.well-known/openid-configuration"},
            "MSS_PSC_DISCOVERY_URL: expected an https://",
        ),
        ({"MSS_PSC_ISSUER": "http://127.0.0.1:8080"}, "MSS_PSC_ISSUER: expected an https://"),
        ({"MSS_PSC_ISSUER": "https://"}, "MSS_PSC_ISSUER: expected an https://"),
        ({"MSS_PSC_CLIENT_AUTH": "private_key_jwt"}, "MSS_PSC_CLIENT_AUTH: expected one of"),
        ({"MSS_PSC_CLIENT_AUTH": "tls_client_auth"}, "MSS_PSC_CLIENT_CERT is required"),
        (
            {"MSS_PSC_CLIENT_AUTH": "tls_client_auth", "MSS_PSC_CLIENT_CERT": "/nonexistent.pem"},
            "MSS_PSC_CLIENT_CERT: /nonexistent.pem is not a readable file",
        ),
    ],
)
def test_bad_pro_sante_connect_settings_are_named(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({**BASE, **PSC, **changes})


def test_the_trust_space_is_unchecked_unless_a_whitelist_is_set() -> None:
    trust = Settings.from_env(BASE).trust
    assert trust.whitelist is None
    assert trust.outside is OutsidePolicy.REFUSE


def test_the_trust_space_settings(tmp_path: Path) -> None:
    listed = tmp_path / "listeblanchemssante.xml"
    listed.write_text("<ListeBlanche/>")
    trust = Settings.from_env(
        {**BASE, "MSS_TRUST_WHITELIST": str(listed), "MSS_TRUST_OUTSIDE": "WARN"}
    ).trust
    assert (trust.whitelist, trust.outside) == (listed, OutsidePolicy.WARN)
    with pytest.raises(SettingsError, match=r"MSS_TRUST_WHITELIST: .* is not a readable file"):
        Settings.from_env({**BASE, "MSS_TRUST_WHITELIST": str(tmp_path / "absent.xml")})
    with pytest.raises(SettingsError, match="MSS_TRUST_OUTSIDE: expected one of refuse, warn"):
        Settings.from_env({**BASE, "MSS_TRUST_OUTSIDE": "allow"})


def _client_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "client.pem", directory / "client.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=mss-webmail", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_mutual_tls_needs_no_secret_and_loads_the_pair_at_start(tmp_path: Path) -> None:
    cert, key = _client_certificate(tmp_path)
    mtls = {"MSS_PSC_CLIENT_AUTH": "tls_client_auth", "MSS_PSC_CLIENT_SECRET": ""}
    psc = Settings.from_env(
        {**BASE, **PSC, **mtls, "MSS_PSC_CLIENT_CERT": str(cert), "MSS_PSC_CLIENT_KEY": str(key)}
    ).psc
    assert psc is not None and psc.mutual_tls and psc.client_secret == ""
    assert psc.client_certificate is not None and psc.client_certificate.key == key
    assert Settings.from_env({**BASE, **PSC}).psc.client_auth == "client_secret_basic"  # type: ignore[union-attr]


def test_a_key_that_does_not_fit_the_certificate_stops_the_start_without_showing_it(
    tmp_path: Path,
) -> None:
    cert, _key = _client_certificate(tmp_path)
    (tmp_path / "other").mkdir()
    _cert, other_key = _client_certificate(tmp_path / "other")
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_bytes(cert.read_bytes())
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(
        ["openssl", "pkey", "-in", str(_key), "-aes256", "-passout", "pass:secret",
         "-out", str(encrypted)],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    for path in (not_a_key, encrypted):
        path.chmod(0o600)
    # Another key; a certificate where the key should be; the right key, encrypted.
    for key in (other_key, not_a_key, encrypted):
        env = {
            **BASE, **PSC, "MSS_PSC_CLIENT_AUTH": "tls_client_auth",
            "MSS_PSC_CLIENT_CERT": str(cert), "MSS_PSC_CLIENT_KEY": str(key),
        }  # fmt: skip
        with pytest.raises(
            SettingsError, match=r"^MSS_PSC_CLIENT_CERT, MSS_PSC_CLIENT_KEY"
        ) as error:
            Settings.from_env(env)
        secret_lines = other_key.read_text().splitlines()[1:-1]
        assert not any(line in str(error.value) for line in secret_lines)


def test_a_key_every_user_can_read_stops_the_start(tmp_path: Path) -> None:
    cert, key = _client_certificate(tmp_path)
    key.chmod(0o644)
    env = {
        **BASE, **PSC, "MSS_PSC_CLIENT_AUTH": "tls_client_auth",
        "MSS_PSC_CLIENT_CERT": str(cert), "MSS_PSC_CLIENT_KEY": str(key),
    }  # fmt: skip
    with pytest.raises(SettingsError, match=r"^MSS_PSC_CLIENT_KEY: .* readable by every user"):
        Settings.from_env(env)
    key.chmod(0o640)
    assert Settings.from_env(env).psc is not None


def test_phone_sign_in_is_on_unless_turned_off() -> None:
    assert Settings.from_env({**BASE, **PSC}).psc_phone.enabled
    for off in ("off", "false", "0"):
        assert not Settings.from_env({**BASE, **PSC, "MSS_PSC_CIBA": off}).psc_phone.enabled
    with pytest.raises(SettingsError, match=re.escape("MSS_PSC_CIBA: expected true or false")):
        Settings.from_env({**BASE, **PSC, "MSS_PSC_CIBA": "sometimes"})


def test_shared_mailboxes_settings() -> None:
    shared = Settings.from_env(
        {
            **BASE,
            "MSS_ORGANISATIONAL_ONLY_ACCOUNTS": "secretariat.*@cabinet.fr, accueil@clinique.fr",
            "MSS_SHARED_MAILBOXES": "secretariat=Secrétariat du cabinet <secretariat@cabinet.fr>;"
            " accueil=accueil@clinique.fr",
        }
    ).shared
    assert shared.personal_hidden("Secretariat.Nord@cabinet.fr")
    assert shared.personal_hidden("accueil@clinique.fr")
    assert not shared.personal_hidden("dr.martin@cabinet.fr")
    identity = shared.identity("secretariat")
    assert identity is not None
    assert (identity.address, identity.name) == ("secretariat@cabinet.fr", "Secrétariat du cabinet")
    assert shared.identity("accueil").address == "accueil@clinique.fr"  # type: ignore[union-attr]
    assert Settings.from_env(BASE).shared.identities == ()


@pytest.mark.parametrize("value", ["secretariat", "secretariat=pas une adresse", "=a@b.fr"])
def test_bad_shared_mailbox_entries_are_named(value: str) -> None:
    with pytest.raises(SettingsError, match="MSS_SHARED_MAILBOXES: expected entries like"):
        Settings.from_env({**BASE, "MSS_SHARED_MAILBOXES": value})


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


def test_redis_sentinel_settings() -> None:
    assert not Settings.from_env(BASE).redis.uses_sentinel
    settings = Settings.from_env(
        {
            **BASE,
            "MSS_REDIS_SENTINELS": "10.0.0.1:26379, [::1]:26380",
            "MSS_REDIS_SENTINEL_SERVICE": "webmail",
            "MSS_REDIS_PASSWORD": "s3cret",
        }
    )
    assert settings.redis.sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert settings.redis.service == "webmail"
    assert "s3cret" not in settings.redis.describe()


def test_operating_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.metrics.listen is None  # no metrics listener unless asked
    assert settings.connection_limits.per_user < 10  # below the operators' ~10 per user
    listened = Settings.from_env({**BASE, "MSS_METRICS_LISTEN": "127.0.0.1:9464"})
    assert listened.metrics.listen == ("127.0.0.1", 9464)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"MSS_REDIS_SENTINELS": "10.0.0.1"}, "MSS_REDIS_SENTINELS: expected host:port"),
        ({"MSS_REDIS_SENTINELS": "h:99999"}, "MSS_REDIS_SENTINELS: expected host:port"),
        ({"MSS_REDIS_DB": "x"}, "MSS_REDIS_DB: expected a number"),
        ({"MSS_REDIS_TLS": "peut-être"}, "MSS_REDIS_TLS: expected true or false"),
        ({"MSS_METRICS_LISTEN": "9464"}, "MSS_METRICS_LISTEN: expected host:port"),
        ({"MSS_IMAP_MAX_PER_USER": "0"}, "MSS_IMAP_MAX_PER_USER: expected a number from 1"),
        ({"MSS_IMAP_MAX_PER_PROCESS": "x"}, "MSS_IMAP_MAX_PER_PROCESS: expected a number"),
    ],
)
def test_bad_operating_settings_are_named(changes: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({**BASE, **changes})


def test_trusted_proxies_default_to_loopback_and_take_cidr_blocks() -> None:
    default = Settings.from_env(BASE).proxy.trusted
    assert [str(n) for n in default] == ["127.0.0.0/8", "::1/128"]
    proxies = Settings.from_env({**BASE, "MSS_TRUSTED_PROXIES": "10.0.0.0/8 192.0.2.7"})
    assert [str(n) for n in proxies.proxy.trusted] == ["10.0.0.0/8", "192.0.2.7/32"]


def test_search_across_folders_is_bounded_in_time() -> None:
    assert Settings.from_env(BASE).search.seconds == 5.0
    assert Settings.from_env({**BASE, "MSS_SEARCH_SECONDS": "12"}).search.seconds == 12.0
    for value in ("0", "61", "2.5"):
        with pytest.raises(SettingsError, match="MSS_SEARCH_SECONDS"):
            Settings.from_env({**BASE, "MSS_SEARCH_SECONDS": value})


def test_live_inbox_settings() -> None:
    live = Settings.from_env(BASE).live
    assert live.idle and live.watchers_per_user == 4
    assert live.idle_renew_seconds == 29 * 60  # RFC 2177: re-issue IDLE within 29 minutes
    changed = Settings.from_env(
        {**BASE, "MSS_LIVE_IDLE": "false", "MSS_LIVE_WATCHERS_PER_USER": "0"}
    ).live
    assert not changed.idle and changed.watchers_per_user == 0


@pytest.mark.parametrize(
    "name, value",
    [
        ("MSS_LIVE_IDLE_RENEW_SECONDS", "1741"),  # past 29 minutes: servers drop such an IDLE
        ("MSS_LIVE_WATCHERS_PER_USER", "11"),  # past the operators' limit on its own
        ("MSS_LIVE_HEARTBEAT_SECONDS", "0"),
    ],
)
def test_bad_live_inbox_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**BASE, name: value})


def test_undo_send_delay_defaults_to_ten_seconds_and_is_bounded() -> None:
    assert Settings.from_env(BASE).undo_send.seconds == 10
    assert Settings.from_env({**BASE, "MSS_UNDO_SEND_SECONDS": "0"}).undo_send.seconds == 0
    with pytest.raises(SettingsError, match="MSS_UNDO_SEND_SECONDS"):
        Settings.from_env({**BASE, "MSS_UNDO_SEND_SECONDS": "61"})
