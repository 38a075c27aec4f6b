"""Every setting of the webmail, read from the environment, typed and validated at start.

Each setting is an environment variable prefixed with ``MSS_``; ``.env.example`` documents them
all (a test checks that). A wrong or missing value stops the start with one clear line.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from webmail.auth.ciba import CibaConfig
from webmail.auth.cps import ID_ATTRIBUTES, CpsConfig, read_mapping
from webmail.auth.networks import DEFAULT_IPV6_PREFIX, MAX_IPV6_PREFIX, MIN_IPV6_PREFIX
from webmail.auth.oidc import CLIENT_AUTH_METHODS, SECRET_BASIC, TLS_CLIENT_AUTH, PscConfig
from webmail.auth.oidc_http import ClientCertificate, check_client_certificate, is_https_url
from webmail.auth.throttle import Limits
from webmail.directory.config import DirectoryConfig, directory_config
from webmail.mail.connection_limits import ConnectionLimits, LimitsError, connection_limits
from webmail.mail.scheduled import UndoSendConfig
from webmail.mail.shared_config import SharedIdentity, SharedMailboxConfig
from webmail.mail.undo_config import UndoConfig
from webmail.ops.metrics_config import MetricsConfig, MetricsConfigError, metrics_config
from webmail.ops.redis_client import RedisConfig, RedisConfigError, redis_config
from webmail.security.proxy import ProxyConfig, parse_networks
from webmail.trust.policy import OutsidePolicy, TrustConfig

_T = TypeVar("_T")


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


class TlsMode(StrEnum):
    STARTTLS = "starttls"
    IMPLICIT = "implicit"
    # Only accepted towards a loopback server (a local test stack, or a TLS-terminating proxy).
    NONE = "none"


DEFAULT_PORTS = {
    "imap": {TlsMode.STARTTLS: 143, TlsMode.IMPLICIT: 993, TlsMode.NONE: 143},
    "smtp": {TlsMode.STARTTLS: 587, TlsMode.IMPLICIT: 465, TlsMode.NONE: 587},
}


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    tls: TlsMode


@dataclass(frozen=True)
class SmtpTimeouts:
    """RFC 5321 section 4.5.3.2 gives each SMTP step its own timeout: the reply to the final
    dot (the server may scan the message before answering) deserves longer than a command."""

    command: float
    data_end: float


@dataclass(frozen=True)
class SearchConfig:
    # A search across folders stops starting new folders after this long (what was found
    # is shown, said to be partial).
    seconds: float = 5.0


@dataclass(frozen=True)
class LiveConfig:
    """The live inbox: one IMAP IDLE watcher per open session, polling as the fallback."""

    # IDLE (RFC 2177) on a second connection; off: every session polls on its own one.
    idle: bool = True
    # Watchers (each an IMAP connection) one account may hold across all app instances; the
    # operator allows about 10 connections per user and each session also holds its own.
    watchers_per_user: int = 4
    # How often a watcher without IDLE, or showing several folders, looks again.
    poll_seconds: int = 30
    # IDLE is re-issued before servers drop it (29 minutes at most, RFC 2177).
    idle_renew_seconds: int = 29 * 60
    # A comment on the open stream so that proxies do not close it.
    heartbeat_seconds: int = 25
    # How long a watcher outlives its last page (a reload should not reopen it).
    grace_seconds: int = 10


@dataclass(frozen=True)
class Settings:
    imap: ServerSettings
    smtp: ServerSettings
    ca_bundle: Path | None
    redis_url: str
    secret_key: str
    max_upload_bytes: int
    session_idle_seconds: int
    session_absolute_seconds: int
    cookie_secure: bool
    default_language: str
    imap_timeout_seconds: float
    imap_idle_close_seconds: int
    smtp_timeouts: SmtpTimeouts
    page_size: int
    audit_log: str
    data_dir: Path
    email_otp: bool
    login_limits: Limits
    # How the address typed at login becomes the IMAP/SMTP login name (see login_name).
    login_format: str = "address"
    # Pro Santé Connect sign-in, when enabled (MSS_PSC_ENABLED).
    psc: PscConfig | None = None
    # The trust space's whitelist and what happens outside it (MSS_TRUST_*).
    trust: TrustConfig = TrustConfig()  # noqa: RUF009 (frozen: one shared default is safe)
    # Sign-in from the phone with PSC's backchannel flow (CIBA), when PSC is enabled.
    psc_phone: CibaConfig = dataclasses.field(default_factory=CibaConfig)
    # Organisational mailboxes reached through the IMAP server's shared namespace.
    shared: SharedMailboxConfig = dataclasses.field(default_factory=SharedMailboxConfig)
    # The national directory's index (MSS_DIRECTORY_INDEX, default under MSS_DATA_DIR).
    directory: DirectoryConfig | None = None
    # Where Redis is: redis_url, or a primary found through Sentinel (MSS_REDIS_*).
    redis: RedisConfig = RedisConfig()  # noqa: RUF009 (frozen: one shared default is safe)
    # IMAP connections per user (across instances) and per process (MSS_IMAP_MAX_*).
    connection_limits: ConnectionLimits = ConnectionLimits()  # noqa: RUF009 (frozen)
    # The Prometheus metrics listener, off unless MSS_METRICS_LISTEN is set.
    metrics: MetricsConfig = MetricsConfig()  # noqa: RUF009 (frozen)
    # The reverse proxies whose X-Forwarded-* and client-certificate headers are believed.
    proxy: ProxyConfig = ProxyConfig()  # noqa: RUF009 (frozen: one shared default is safe)
    # Sign-in with a CPS card verified by nginx, when enabled (MSS_CPS_ENABLED).
    cps: CpsConfig | None = None
    # Search in the mail (MSS_SEARCH_*).
    search: SearchConfig = SearchConfig()
    # New mail shown without reloading (MSS_LIVE_*).
    live: LiveConfig = LiveConfig()
    # How long a move or a deletion can be undone (MSS_UNDO_SECONDS).
    undo: UndoConfig = UndoConfig()  # noqa: RUF009 (frozen: one shared default is safe)
    # Undo send: how long Envoyer can be taken back (MSS_UNDO_SEND_SECONDS).
    undo_send: UndoSendConfig = UndoSendConfig()  # noqa: RUF009 (frozen: one shared default)

    def login_name(self, address: str) -> str:
        """The login name the mail servers know ``address`` by; the webmail still shows and
        sends with the address."""
        return login_name(self.login_format, address)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        reader = _Reader(os.environ if env is None else env)
        imap = reader.server("imap")
        smtp = reader.server("smtp")
        redis = reader.feature(redis_config, RedisConfigError)
        settings = cls(
            imap=imap,
            smtp=smtp,
            ca_bundle=reader.optional_file("MSS_CA_BUNDLE"),
            redis_url=redis.url,
            secret_key=reader.secret("MSS_SECRET_KEY"),
            max_upload_bytes=reader.integer(
                "MSS_MAX_UPLOAD_BYTES", 10 * 1024 * 1024, 1024, 200 << 20
            ),
            session_idle_seconds=60 * reader.integer("MSS_SESSION_IDLE_MINUTES", 30, 1, 120),
            session_absolute_seconds=3600 * reader.integer("MSS_SESSION_ABSOLUTE_HOURS", 12, 1, 24),
            cookie_secure=reader.boolean("MSS_COOKIE_SECURE", True),
            default_language=reader.choice("MSS_LANGUAGE", "fr", ("fr", "en")),
            imap_timeout_seconds=float(reader.integer("MSS_IMAP_TIMEOUT_SECONDS", 15, 1, 300)),
            imap_idle_close_seconds=reader.integer("MSS_IMAP_IDLE_CLOSE_SECONDS", 300, 10, 7200),
            smtp_timeouts=SmtpTimeouts(
                command=float(reader.integer("MSS_SMTP_TIMEOUT_SECONDS", 15, 1, 300)),
                data_end=float(reader.integer("MSS_SMTP_DATA_TIMEOUT_SECONDS", 40, 1, 600)),
            ),
            page_size=reader.integer("MSS_PAGE_SIZE", 50, 10, 200),
            audit_log=reader.audit_destination("MSS_AUDIT_LOG"),
            data_dir=reader.writable_dir("MSS_DATA_DIR"),
            email_otp=reader.boolean("MSS_EMAIL_OTP", False),
            login_limits=Limits(
                failures_before_lock=reader.integer("MSS_LOGIN_MAX_FAILURES", 5, 3, 20),
                first_lock_seconds=reader.integer("MSS_LOGIN_LOCK_SECONDS", 60, 1, 3600),
                ipv6_prefix=reader.integer(
                    "MSS_IPV6_PREFIX", DEFAULT_IPV6_PREFIX, MIN_IPV6_PREFIX, MAX_IPV6_PREFIX
                ),
            ),
            login_format=reader.login_format("MSS_LOGIN_FORMAT"),
            psc=reader.psc(),
            trust=reader.trust(),
            psc_phone=reader.psc_phone(),
            shared=reader.shared_mailboxes(),
            undo=UndoConfig(seconds=reader.integer("MSS_UNDO_SECONDS", 10, 1, 120)),
            directory=reader.directory(),
            redis=redis,
            connection_limits=reader.feature(connection_limits, LimitsError),
            metrics=reader.feature(metrics_config, MetricsConfigError),
            proxy=reader.proxy(),
            cps=reader.cps(),
            search=reader.search(),
            live=reader.live(),
            undo_send=reader.undo_send(),
        )
        return settings


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def text(self, name: str, default: str | None = None) -> str:
        value = self.raw(name)
        if value is not None:
            return value
        if default is None:
            raise SettingsError(f"{name} is required (see .env.example)")
        return default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(f"{name}: expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise SettingsError(f"{name}: expected a number from {low} to {high}, got {number}")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name}: expected true or false, got {value!r}")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = (self.raw(name) or default).lower()
        if value not in choices:
            raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        return value

    def secret(self, name: str) -> str:
        value = self.text(name)
        if len(value) < 32:
            raise SettingsError(
                f"{name}: must be at least 32 random characters "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return value

    def optional_file(self, name: str) -> Path | None:
        value = self.raw(name)
        if value is None:
            return None
        path = Path(value)
        if not path.is_file() or not os.access(path, os.R_OK):
            raise SettingsError(f"{name}: {value} is not a readable file")
        return path

    def writable_dir(self, name: str) -> Path:
        path = Path(self.text(name))
        if not path.is_dir() or not os.access(path, os.W_OK):
            raise SettingsError(f"{name}: {path} is not a writable directory")
        return path

    def audit_destination(self, name: str) -> str:
        value = self.text(name, "stdout")
        if value == "stdout":
            return value
        parent = Path(value).parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise SettingsError(f"{name}: cannot write a file in {parent}")
        return value

    def login_format(self, name: str) -> str:
        value = self.text(name, "address")
        try:
            login_name(value, "user@example.org")
        except ValueError as error:
            raise SettingsError(f"{name}: {error}, got {value!r}") from None
        return value

    def https_url(self, name: str, default: str | None = None) -> str:
        """An address of this webmail: https, or http on loopback (a local demo)."""
        value = self.text(name, default)
        if not value.startswith("https://") and not _is_loopback_http(value):
            raise SettingsError(f"{name}: expected an https:// URL, got {value!r}")
        return value

    def provider_url(self, name: str, default: str | None = None) -> str:
        """An address of the identity provider: https only, as every call to it is."""
        value = self.text(name, default)
        if not is_https_url(value):
            raise SettingsError(f"{name}: expected an https:// URL, got {value!r}")
        return value

    def psc(self) -> PscConfig | None:
        if not self.boolean("MSS_PSC_ENABLED", False):
            return None
        issuer = self.provider_url("MSS_PSC_ISSUER").rstrip("/")
        client_auth = self.choice("MSS_PSC_CLIENT_AUTH", SECRET_BASIC, CLIENT_AUTH_METHODS)
        mutual_tls = client_auth == TLS_CLIENT_AUTH
        return PscConfig(
            issuer=issuer,
            discovery_url=self.provider_url(
                "MSS_PSC_DISCOVERY_URL", f"{issuer}/.well-known/wallet-openid-configuration"
            ),
            client_id=self.text("MSS_PSC_CLIENT_ID"),
            # With mutual TLS the certificate stands for the secret.
            client_secret=self.text("MSS_PSC_CLIENT_SECRET", "" if mutual_tls else None),
            redirect_uri=self.https_url("MSS_PSC_REDIRECT_URI"),
            mailbox_claim=self.text("MSS_PSC_MAILBOX_CLAIM", "email"),
            ca_bundle=self.optional_file("MSS_PSC_CA_BUNDLE")
            or self.optional_file("MSS_CA_BUNDLE"),
            client_auth=client_auth,
            client_certificate=self.client_certificate() if mutual_tls else None,
        )

    def proxy(self) -> ProxyConfig:
        value = self.raw("MSS_TRUSTED_PROXIES")
        if value is None:
            return ProxyConfig()
        try:
            return ProxyConfig(trusted=parse_networks(value))
        except ValueError as error:
            raise SettingsError(f"MSS_TRUSTED_PROXIES: {error}") from None

    def cps(self) -> CpsConfig | None:
        if not self.boolean("MSS_CPS_ENABLED", False):
            return None
        attribute = self.choice("MSS_CPS_ID_ATTRIBUTE", "cn", tuple(ID_ATTRIBUTES))
        if self.text("MSS_CPS_MAPPING", "directory") == "directory":
            return CpsConfig(mapping=None, id_attribute=attribute)
        path = self.optional_file("MSS_CPS_MAPPING")
        assert path is not None  # set, and not "directory"
        try:
            return CpsConfig(mapping=read_mapping(path), id_attribute=attribute)
        except (ValueError, UnicodeDecodeError) as error:
            raise SettingsError(f"MSS_CPS_MAPPING: {path}: {error}") from None

    def trust(self) -> TrustConfig:
        outside = self.choice("MSS_TRUST_OUTSIDE", "refuse", tuple(OutsidePolicy))
        return TrustConfig(
            whitelist=self.optional_file("MSS_TRUST_WHITELIST"), outside=OutsidePolicy(outside)
        )

    def client_certificate(self) -> ClientCertificate:
        """MSS_PSC_CLIENT_CERT and MSS_PSC_CLIENT_KEY, loaded once here so that a wrong
        pair stops the start rather than the first sign-in; the key is never shown."""
        cert, key = (
            self.optional_file(name) or self.text(name)  # text(): "is required"
            for name in ("MSS_PSC_CLIENT_CERT", "MSS_PSC_CLIENT_KEY")
        )
        certificate = ClientCertificate(Path(cert), Path(key))
        if certificate.key.stat().st_mode & 0o004:
            raise SettingsError(
                f"MSS_PSC_CLIENT_KEY: {key} is readable by every user of this machine "
                "(chmod o-r it: it proves the webmail's identity to Pro Santé Connect)"
            )
        try:
            check_client_certificate(certificate)
        except ValueError as error:
            raise SettingsError(
                f"MSS_PSC_CLIENT_CERT, MSS_PSC_CLIENT_KEY: unusable certificate and key ({error})"
            ) from None
        return certificate

    def psc_phone(self) -> CibaConfig:
        return CibaConfig(enabled=self.boolean("MSS_PSC_CIBA", True))

    def shared_mailboxes(self) -> SharedMailboxConfig:
        patterns = self.raw("MSS_ORGANISATIONAL_ONLY_ACCOUNTS") or ""
        identities = []
        for entry in (self.raw("MSS_SHARED_MAILBOXES") or "").split(";"):
            if not entry.strip():
                continue
            owner, _, described = entry.partition("=")
            name, address = parseaddr(described.strip())
            if not owner.strip() or not _ADDRESS.fullmatch(address):
                raise SettingsError(
                    "MSS_SHARED_MAILBOXES: expected entries like "
                    f"'secretariat=Secrétariat <secretariat@example.org>', got {entry.strip()!r}"
                )
            identities.append((owner.strip(), SharedIdentity(address=address, name=name)))
        return SharedMailboxConfig(
            organisational_only=tuple(p.strip() for p in patterns.split(",") if p.strip()),
            identities=tuple(identities),
        )

    def feature(self, read: Callable[[Mapping[str, str]], _T], errors: type[ValueError]) -> _T:
        """A feature's own settings (MSS_REDIS_*...): its ValueError becomes a SettingsError."""
        try:
            return read(self.env)
        except errors as error:
            raise SettingsError(str(error)) from None

    def undo_send(self) -> UndoSendConfig:
        # At most a minute: the credentials wait in memory for that long, and a Pro Santé
        # Connect access token taken at Envoyer lives two minutes.
        return UndoSendConfig(seconds=self.integer("MSS_UNDO_SEND_SECONDS", 10, 0, 60))

    def directory(self) -> DirectoryConfig:
        config = directory_config(self.env)
        if config is None:
            raise SettingsError("MSS_DATA_DIR is required (see .env.example)")
        if not config.index.parent.is_dir():
            raise SettingsError(
                f"MSS_DIRECTORY_INDEX: the directory of {config.index} does not exist"
            )
        return config

    def search(self) -> SearchConfig:
        return SearchConfig(seconds=float(self.integer("MSS_SEARCH_SECONDS", 5, 1, 60)))

    def live(self) -> LiveConfig:
        return LiveConfig(
            idle=self.boolean("MSS_LIVE_IDLE", True),
            watchers_per_user=self.integer("MSS_LIVE_WATCHERS_PER_USER", 4, 0, 10),
            poll_seconds=self.integer("MSS_LIVE_POLL_SECONDS", 30, 1, 600),
            idle_renew_seconds=self.integer("MSS_LIVE_IDLE_RENEW_SECONDS", 29 * 60, 1, 29 * 60),
            heartbeat_seconds=self.integer("MSS_LIVE_HEARTBEAT_SECONDS", 25, 1, 120),
            grace_seconds=self.integer("MSS_LIVE_GRACE_SECONDS", 10, 0, 300),
        )

    def server(self, kind: str) -> ServerSettings:
        prefix = f"MSS_{kind.upper()}"
        host = self.text(f"{prefix}_HOST")
        tls = TlsMode(self.choice(f"{prefix}_TLS", "starttls", tuple(TlsMode)))
        if tls is TlsMode.NONE and not _is_loopback(host):
            raise SettingsError(
                f"{prefix}_TLS=none is only allowed towards a loopback host, not {host!r}"
            )
        port = self.integer(f"{prefix}_PORT", DEFAULT_PORTS[kind][tls], 1, 65535)
        return ServerSettings(host=host, port=port, tls=tls)


_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_LOGIN_TEMPLATES = {"localpart": "{local}"}
_LOGIN_FORMAT_EXPECTED = "expected address, localpart, or a template of {local} and {domain}"


def login_name(login_format: str, address: str) -> str:
    """``address`` as the servers' login name: ``address`` (unchanged), ``localpart`` (before
    the last @), or a template of ``{local}`` and ``{domain}`` such as ``{local}.{domain}``.

    Raises ValueError for a format that is none of these.
    """
    if login_format == "address":
        return address
    template = _LOGIN_TEMPLATES.get(login_format, login_format)
    _check_login_template(template)
    local, _, domain = address.rpartition("@")
    if not local:
        local, domain = address, ""
    values = {"local": local, "domain": domain}
    # One pass, not str.format: an address part holding "{" or "{domain}" stays as typed.
    return re.sub(r"\{(local|domain)\}", lambda match: values[match.group(1)], template)


def _check_login_template(template: str) -> None:
    if "{local}" not in template or any(c.isspace() or not c.isprintable() for c in template):
        raise ValueError(_LOGIN_FORMAT_EXPECTED)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:  # a lone "{" or "}"
        raise ValueError(_LOGIN_FORMAT_EXPECTED) from None
    for _text, field, spec, conversion in parts:
        if field not in (None, "local", "domain") or spec or conversion:
            raise ValueError(_LOGIN_FORMAT_EXPECTED)


def _is_loopback_http(url: str) -> bool:
    """http://127.0.0.1... or http://localhost...: a local test or demo webmail only."""
    host = url.removeprefix("http://").split("/", 1)[0].rsplit(":", 1)[0]
    return url.startswith("http://") and _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
