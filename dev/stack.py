"""Local mail stack on loopback: Dovecot (IMAP, LMTP), Postfix (SMTP) and Redis.

Used by the demo and by the test fixtures. Everything (configuration, test CA and
certificate, pid files, logs, mail, sockets) lives under one state directory, so several
stacks can run side by side (demo on base port 10000, tests on 20000) without touching the
system services. Standard library only; Linux only; Postfix needs root.

    python -m dev.stack start|stop|status --state DIR [--base-port N]

Dovecot considers a connection whose remote and local addresses are equal as secured, and
then never advertises LOGINDISABLED, whatever disable_plaintext_auth says. On loopback that
is every connection to 127.0.0.1, so the plain IMAP port listens on 127.0.0.2 instead
(Stack.imap_host): Linux gives connections to it the source address 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import functools
import grp
import hashlib
import os
import pwd
import re
import secrets
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

CONF_TEMPLATES = Path(__file__).with_name("conf")
DOVECOT_DH = Path("/usr/share/dovecot/dh.pem")
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
PORT_RELEASE_TIMEOUT = 5.0
POLL_INTERVAL = 0.05
# sun_path holds 108 bytes; Dovecot adds up to ~30 characters below its base_dir.
UNIX_SOCKET_PATH_MAX = 107
DOVECOT_SOCKET_SUFFIX_MAX = 30
# Deliberately narrow: addresses end up in passwd-file and Postfix table lines.
ADDRESS_RE = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
LOGIN_RE = re.compile(r"[a-z0-9._-]+")
# RFC 4314 rights, as doveadm names them.
ACL_RIGHTS = {
    "l": "lookup",
    "r": "read",
    "s": "write-seen",
    "w": "write",
    "i": "insert",
    "p": "post",
    "k": "create",
    "x": "delete",
    "t": "write-deleted",
    "e": "expunge",
    "a": "admin",
}

# The client id of the webmail at the Pro Santé Connect look-alike (dev/psc.py).
PSC_CLIENT_ID = "mss-webmail"

# Every service but plain IMAP listens here.
LOOPBACK = "127.0.0.1"
# Plain IMAP only. Connections to it come from 127.0.0.1 (the kernel's source address for
# the whole 127.0.0.0/8 route), so Dovecot does not take them for secured ones.
IMAP_PLAIN_ADDRESS = "127.0.0.2"
# Addresses the server certificate must cover, besides DNS:localhost.
SERVER_CERT_IPS = (LOOPBACK, IMAP_PLAIN_ADDRESS)

OPENSSL_CONFIG = """\
[req]
prompt = no
distinguished_name = ca_dn

[ca_dn]
O = MSS webmail development
CN = MSS webmail development test CA

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, @@server_ips
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


class _ConfTemplate(Template):
    # "$" and "%" already mean something in Postfix and Dovecot configuration files.
    delimiter = "@@"


@dataclass
class Stack:
    """The mail servers of one state directory, on ports derived from base_port.

    Clients trust ca_cert. Users come from add_user(); they survive restarts.
    """

    state_dir: Path
    base_port: int = 10000
    # Keep Redis data across restarts (AOF), as a deployment must: second factors live there.
    # The tests leave it off, so that a Redis restart behaves like losing Redis.
    redis_persistent: bool = False

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).absolute()

    # -- ports ---------------------------------------------------------------------------

    @property
    def imap(self) -> int:
        """Plain IMAP, on imap_host only; LOGIN is refused until STARTTLS."""
        return self.base_port + 143

    @property
    def imap_host(self) -> str:
        """The address clients must use for the plain IMAP port (the certificate covers it)."""
        return IMAP_PLAIN_ADDRESS

    @property
    def imaps(self) -> int:
        """IMAP over implicit TLS."""
        return self.base_port + 993

    @property
    def lmtp(self) -> int:
        return self.base_port + 24

    @property
    def smtp(self) -> int:
        """Inbound MTA port: no authentication, local domains only."""
        return self.base_port + 25

    @property
    def submission(self) -> int:
        """STARTTLS then SASL authentication required."""
        return self.base_port + 587

    @property
    def smtps(self) -> int:
        """Implicit TLS then SASL authentication required."""
        return self.base_port + 465

    @property
    def redis(self) -> int:
        return self.base_port + 379

    @property
    def psc(self) -> int:
        """The Pro Santé Connect look-alike (dev/psc.py), over HTTPS on 127.0.0.1."""
        return self.base_port + 444

    @property
    def psc_mtls(self) -> int:
        """The look-alike's mutual-TLS endpoint aliases (RFC 8705 section 5)."""
        return self.base_port + 446

    @property
    def psc_issuer(self) -> str:
        return f"https://localhost:{self.psc}"

    @property
    def psc_client_secret(self) -> str:
        """The webmail's secret at the provider, which Dovecot also uses to introspect
        tokens; stable for a state directory."""
        path = self.state_dir / "psc-client-secret"
        if not path.exists():
            _write_file(path, secrets.token_urlsafe(32), mode=0o600)
        return path.read_text(encoding="utf-8").strip()

    # -- paths ---------------------------------------------------------------------------

    @property
    def ca_cert(self) -> Path:
        """PEM of the test CA that signed the server certificate (the clients' CA bundle)."""
        return self._tls_dir / "ca.pem"

    @property
    def _tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def server_cert(self) -> Path:
        """The servers' certificate (localhost, 127.0.0.1, 127.0.0.2), for other dev servers."""
        return self._server_cert

    @property
    def server_key(self) -> Path:
        return self._server_key

    @property
    def _server_cert(self) -> Path:
        return self._tls_dir / "server.pem"

    @property
    def _server_key(self) -> Path:
        return self._tls_dir / "server.key"

    @property
    def _dovecot_dir(self) -> Path:
        return self.state_dir / "dovecot"

    @property
    def _dovecot_conf(self) -> Path:
        return self._dovecot_dir / "dovecot.conf"

    @property
    def _dovecot_base_dir(self) -> Path:
        return self._dovecot_dir / "run"

    @property
    def _dovecot_pid_file(self) -> Path:
        return self._dovecot_base_dir / "master.pid"

    @property
    def _dovecot_log(self) -> Path:
        return self._dovecot_dir / "dovecot.log"

    @property
    def _users_dir(self) -> Path:
        """One passwd-file per address, named after it."""
        return self._dovecot_dir / "users"

    @property
    def _legacy_relay_pid_file(self) -> Path:
        """Left by earlier versions of this stack, which put a relay before plain IMAP."""
        return self._dovecot_dir / "imap-relay.pid"

    @property
    def _sasl_socket(self) -> Path:
        return self._dovecot_base_dir / "auth-postfix"

    @property
    def _mail_root(self) -> Path:
        return self.state_dir / "mail"

    @property
    def _postfix_dir(self) -> Path:
        return self.state_dir / "postfix"

    @property
    def _postfix_etc(self) -> Path:
        return self._postfix_dir / "etc"

    @property
    def _postfix_queue(self) -> Path:
        return self._postfix_dir / "spool"

    @property
    def _postfix_pid_file(self) -> Path:
        return self._postfix_queue / "pid" / "master.pid"

    @property
    def _postfix_log(self) -> Path:
        return self._postfix_dir / "postfix.log"

    @property
    def _redis_dir(self) -> Path:
        return self.state_dir / "redis"

    @property
    def _redis_pid_file(self) -> Path:
        return self._redis_dir / "redis.pid"

    @property
    def _redis_log(self) -> Path:
        return self._redis_dir / "redis.log"

    # -- whole stack ---------------------------------------------------------------------

    def start(self) -> None:
        """(Re)start everything; processes left by a previous run are stopped first."""
        self._prepare_state_dir()
        self.stop()
        self._ensure_certificates()
        self.start_redis()
        self.start_dovecot()
        self.start_postfix()

    def stop(self) -> None:
        """Stop Postfix, Dovecot and Redis, and wait until they are gone."""
        self.stop_postfix()
        self.stop_dovecot()
        self.stop_redis()

    def status(self) -> dict[str, int | None]:
        """Master pid of each service, None when it is not running."""
        return {
            "redis": _live_pid(self._redis_pid_file, _runs_redis),
            "dovecot": _live_pid(self._dovecot_pid_file, _runs_dovecot),
            "postfix": _live_pid(self._postfix_pid_file, _runs_postfix),
        }

    # -- Redis ---------------------------------------------------------------------------

    def start_redis(self) -> None:
        self.stop_redis()
        self._redis_dir.mkdir(parents=True, exist_ok=True)
        _wait_ports_released([(LOOPBACK, self.redis)])
        command = [
            "redis-server",
            "--port", str(self.redis),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes" if self.redis_persistent else "no",
            "--appendfsync", "everysec",
            "--dir", str(self._redis_dir),
            "--pidfile", str(self._redis_pid_file),
            "--logfile", str(self._redis_log),
            "--daemonize", "yes",
        ]  # fmt: skip
        _run(command, "redis-server", self._redis_log)
        self._wait_ready("Redis", [((LOOPBACK, self.redis), _redis_answers)], self._redis_log)

    def stop_redis(self) -> None:
        _stop_daemon(self._redis_pid_file, _runs_redis)
        _wait_ports_released([(LOOPBACK, self.redis)])

    # -- Dovecot -------------------------------------------------------------------------

    def start_dovecot(self) -> None:
        self.stop_dovecot()
        self._prepare_state_dir()
        self._write_dovecot_config()
        _remove_sockets(self._dovecot_base_dir)
        _wait_ports_released(self._dovecot_ports)
        _run(["dovecot", "-c", str(self._dovecot_conf)], "dovecot", self._dovecot_log)
        tls = self._client_tls_context()
        self._wait_ready(
            "Dovecot",
            [
                ((self.imap_host, self.imap), lambda address: _greets(address, b"* OK")),
                ((LOOPBACK, self.imaps), lambda address: _greets(address, b"* OK", tls)),
                ((LOOPBACK, self.lmtp), lambda address: _greets(address, b"220")),
            ],
            self._dovecot_log,
        )
        if _live_pid(self._postfix_pid_file, _runs_postfix) is not None:
            # Its SASL-enabled smtpd processes may have died for want of Dovecot meanwhile.
            self._wait_postfix_ready()
            # Deliver what was deferred while Dovecot was away now, not at the next retry.
            _run(["postqueue", "-c", str(self._postfix_etc), "-f"], "postqueue", self._postfix_log)

    def stop_dovecot(self) -> None:
        _stop_daemon(self._legacy_relay_pid_file, _runs_legacy_relay)
        # Dovecot's shutdown_clients = yes ends the IMAP sessions too, as a crash would.
        _stop_daemon(self._dovecot_pid_file, _runs_dovecot)
        _wait_ports_released(self._dovecot_ports)

    @property
    def _dovecot_ports(self) -> list[tuple[str, int]]:
        return [(self.imap_host, self.imap), (LOOPBACK, self.imaps), (LOOPBACK, self.lmtp)]

    # -- Postfix -------------------------------------------------------------------------

    def start_postfix(self) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("Postfix can only be started by root")
        self.stop_postfix()
        self._prepare_state_dir()
        self._write_postfix_config()
        self._write_postfix_maps(self._read_users())
        _wait_ports_released(self._postfix_ports)
        _run(self._postfix_command("start"), "postfix start", self._postfix_log)
        self._wait_postfix_ready()

    def stop_postfix(self) -> None:
        if _live_pid(self._postfix_pid_file, _runs_postfix) is not None:
            # The orderly way first; _stop_daemon() then waits, and kills if it must.
            subprocess.run(
                self._postfix_command("stop"), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        _stop_daemon(self._postfix_pid_file, _runs_postfix)
        _wait_ports_released(self._postfix_ports)

    def _wait_postfix_ready(self) -> None:
        tls = self._client_tls_context()
        self._wait_ready(
            "Postfix",
            [
                ((LOOPBACK, self.smtp), lambda address: _greets(address, b"220")),
                ((LOOPBACK, self.submission), lambda address: _greets(address, b"220")),
                ((LOOPBACK, self.smtps), lambda address: _greets(address, b"220", tls)),
            ],
            self._postfix_log,
        )

    @property
    def _postfix_ports(self) -> list[tuple[str, int]]:
        return [(LOOPBACK, self.smtp), (LOOPBACK, self.submission), (LOOPBACK, self.smtps)]

    def _postfix_command(self, action: str) -> list[str]:
        return ["postfix", "-c", str(self._postfix_etc), action]

    # -- users ---------------------------------------------------------------------------

    def add_user(self, address: str, password: str) -> None:
        """Create or update a mailbox, usable at once for IMAP, SMTP AUTH and delivery."""
        self.add_users({address: password})

    def add_users(self, accounts: Mapping[str, str]) -> None:
        """add_user() for several addresses (address -> password), with a single reload."""
        passwords = {_normalize_address(address): pw for address, pw in accounts.items()}
        self._prepare_state_dir()
        with self._users_lock():
            known = self._read_users()
            new_addresses = sorted(passwords.keys() - known)
            for address, password in passwords.items():
                self._write_user(address, _ssha512(password))
            if new_addresses:
                self._write_postfix_maps(known | passwords.keys())
        if _live_pid(self._dovecot_pid_file, _runs_dovecot) is not None:
            for address, password in passwords.items():
                self._wait_dovecot_accepts(address, password)
        if new_addresses and _live_pid(self._postfix_pid_file, _runs_postfix) is not None:
            self._reload_postfix()
            for address in new_addresses:
                self._wait_postfix_accepts(address)

    def add_login(self, address: str, login: str, password: str) -> None:
        """Let ``login`` (a bare user name) authenticate for ``address`` over SMTP as well,
        like operators whose servers know users by another name than their address."""
        address = _normalize_address(address)
        if not LOGIN_RE.fullmatch(login):
            raise ValueError(f"unsupported login name: {login!r}")
        with self._users_lock():
            self._write_user(login, _ssha512(password))
            logins = self._read_logins()
            logins[login] = address
            lines = "".join(f"{name} {owner}\n" for name, owner in sorted(logins.items()))
            _write_file(self._logins_file, lines)
            self._write_postfix_maps(self._read_users())
        if _live_pid(self._dovecot_pid_file, _runs_dovecot) is not None:
            self._wait_dovecot_accepts(login, password)
        if _live_pid(self._postfix_pid_file, _runs_postfix) is not None:
            self._reload_postfix()

    def share_mailbox(self, owner: str, grantee: str, rights: str, folder: str = "INBOX") -> None:
        """Give ``grantee`` the ACL ``rights`` (RFC 4314 letters, e.g. "lr" to read, "lrswite"
        to work in it) on ``owner``'s ``folder``, as an operator does with doveadm; empty
        rights take the share away. Dovecot records it in its shared-mailboxes dictionary,
        so the folder appears at once in the grantee's LIST under the shared namespace."""
        if not set(rights) <= set(ACL_RIGHTS):
            raise ValueError(f"unknown ACL rights: {rights!r}")
        identifier = f"user={self._login_of(grantee)}"
        command = ["doveadm", "-c", str(self._dovecot_conf), "acl"]
        if rights:
            command += ["set", "-u", self._login_of(owner), folder, identifier, *_acl_names(rights)]
        else:
            command += ["delete", "-u", self._login_of(owner), folder, identifier]
        _run(command, "doveadm acl", self._dovecot_log)

    def allow_sender(self, address: str, login: str) -> None:
        """Let ``login`` send mail from ``address`` too (an organisational mailbox it may
        use): Postfix's reject_sender_login_mismatch otherwise refuses that MAIL FROM."""
        address = _normalize_address(address)
        with self._users_lock():
            senders = self._read_senders()
            senders.setdefault(address, set()).add(self._login_of(login))
            lines = "".join(f"{a} {' '.join(sorted(who))}\n" for a, who in sorted(senders.items()))
            _write_file(self._senders_file, lines)
            self._write_postfix_maps(self._read_users())
        if _live_pid(self._postfix_pid_file, _runs_postfix) is not None:
            self._reload_postfix()

    def _login_of(self, address: str) -> str:
        """The name this Dovecot knows an account by (another flavour may use less)."""
        return _normalize_address(address)

    def _read_senders(self) -> dict[str, set[str]]:
        """address -> the other logins allowed to send from it (allow_sender)."""
        try:
            text = self._senders_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        pairs = (line.partition(" ") for line in text.splitlines())
        return {address: set(who.split()) for address, _, who in pairs}

    @property
    def _senders_file(self) -> Path:
        return self._dovecot_dir / "senders"

    def _read_logins(self) -> dict[str, str]:
        """login name -> the address it may send as (add_login)."""
        try:
            text = self._logins_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        return dict(line.split(" ", 1) for line in text.splitlines() if " " in line)

    @property
    def _logins_file(self) -> Path:
        return self._dovecot_dir / "logins"

    def _read_users(self) -> set[str]:
        """The addresses with a mailbox: Dovecot's passwd-files are the source of truth."""
        if not self._users_dir.is_dir():
            return set()
        return {path.name for path in self._users_dir.iterdir() if ADDRESS_RE.fullmatch(path.name)}

    def _write_user(self, address: str, password_hash: str) -> None:
        # One file per address, because Dovecot stats a passwd-file at most once per second:
        # with a single file, a user added right after another lookup stayed unknown for up
        # to a second. It also re-reads a file only when its (mtime in seconds, size) pair
        # changes, and a new hash has the same size: the mtime must move.
        path = self._users_dir / address
        previous = _mtime(path)
        now = time.time()
        mtime = now if previous is None or int(now) > int(previous) else int(previous) + 1
        # Dovecot's auth process (an unprivileged user) reads it; nobody else should.
        _write_file(
            path,
            f"{address}:{password_hash}\n",
            mode=0o640,
            group=self._dovecot_internal_group,
            mtime=mtime,
        )

    @contextlib.contextmanager
    def _users_lock(self) -> Iterator[None]:
        with open(self._dovecot_dir / "users.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _wait_dovecot_accepts(self, address: str, password: str) -> None:
        # Dovecot stats a passwd-file at most once per second, so a lookup made earlier in
        # the same second may still answer from the old copy: try until the new password works.
        socket_path = self._dovecot_base_dir / "auth-client"
        if not _wait_until(lambda: _dovecot_authenticates(socket_path, address, password), 5.0):
            raise RuntimeError(f"Dovecot refuses {address}:\n{_tail(self._dovecot_log)}")

    def _reload_postfix(self) -> None:
        log_size = _file_size(self._postfix_log)
        _run(self._postfix_command("reload"), "postfix reload", self._postfix_log)
        # "postfix reload" only signals the master: wait until it has acted on it.
        if not _wait_until(lambda: b"reload --" in _read_from(self._postfix_log, log_size), 5.0):
            raise RuntimeError(f"Postfix did not reload:\n{_tail(self._postfix_log)}")

    def _wait_postfix_accepts(self, address: str) -> None:
        # An smtpd started before the reload keeps the old tables until it exits.
        if not _wait_until(lambda: _smtp_accepts_recipient(self.smtp, address), 10.0):
            raise RuntimeError(f"Postfix still refuses {address}:\n{_tail(self._postfix_log)}")

    # -- configuration -------------------------------------------------------------------

    def _prepare_state_dir(self) -> None:
        for directory in (
            self.state_dir,
            self._dovecot_dir,
            self._dovecot_base_dir,
            self._postfix_dir,
            self._postfix_etc,
            self._postfix_queue,
            self._redis_dir,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # Dovecot's auth and mail processes, and Postfix, run unprivileged.
            self.state_dir.chmod(0o755)
            _require_traversable(self.state_dir)
            _chown(self._postfix_dir / "data", "postfix", "postfix", mode=0o700)
        self._prepare_users_dir()
        _chown(self._mail_root, self._mail_user, self._mail_group, mode=0o700)
        longest_socket = len(str(self._dovecot_base_dir)) + DOVECOT_SOCKET_SUFFIX_MAX
        if longest_socket > UNIX_SOCKET_PATH_MAX:
            raise RuntimeError(f"state dir path too long for Unix sockets: {self.state_dir}")

    def _prepare_users_dir(self) -> None:
        # Earlier versions of this stack kept all the users in one passwd-file at this path.
        legacy = ""
        if self._users_dir.is_file():
            legacy = self._users_dir.read_text(encoding="utf-8")
            self._users_dir.unlink()
        _chown(self._users_dir, _current_user(), self._dovecot_internal_group, mode=0o750)
        for line in legacy.splitlines():
            address, _, password_hash = line.partition(":")
            if ADDRESS_RE.fullmatch(address) and password_hash:
                self._write_user(address, password_hash.split(":")[0])

    def _write_dovecot_config(self) -> None:
        values = {
            "base_dir": self._dovecot_base_dir,
            "dovecot_state_dir": self._dovecot_dir / "state",
            "instance_name": f"mss-dev-{self.base_port}",
            "log_path": self._dovecot_log,
            "privilege_settings": self._dovecot_privilege_settings(),
            "server_cert": self._server_cert,
            "server_key": self._server_key,
            "ssl_dh_setting": f"ssl_dh = <{DOVECOT_DH}" if DOVECOT_DH.exists() else "",
            "users_dir": self._users_dir,
            "mail_uid": self._mail_user,
            "mail_gid": self._mail_group,
            "mail_root": self._mail_root,
            "imap_address": self.imap_host,
            "imap_port": self.imap,
            "imaps_port": self.imaps,
            "lmtp_port": self.lmtp,
            "login_chroot_setting": "" if os.geteuid() == 0 else "  chroot =",
            "postfix_user": self._postfix_user,
            "postfix_group": self._postfix_group,
            "oauth2_conf": self._write_dovecot_oauth2_config(),
            "shared_dict": self._mail_root / "shared-mailboxes.db",
            **self._dovecot_flavour_values(),
        }
        (self._dovecot_dir / "state").mkdir(exist_ok=True)
        _write_file(self._dovecot_conf, _render("dovecot.conf", values))

    def _write_dovecot_oauth2_config(self) -> Path:
        """Token introspection at the PSC look-alike, with the webmail's own client."""
        path = self._dovecot_dir / "dovecot-oauth2.conf.ext"
        # The auth process runs unprivileged and cannot enter the private TLS directory.
        ca_copy = self._dovecot_dir / "ca.pem"
        _write_file(ca_copy, self.ca_cert.read_text(encoding="utf-8"))
        url = (
            f"https://{PSC_CLIENT_ID}:{self.psc_client_secret}@localhost:{self.psc}"
            "/token/introspection"
        )
        lines = [
            "introspection_mode = post",
            f"introspection_url = {url}",
            # The provider puts the mailbox address in its introspection answer.
            "username_attribute = email",
            "active_attribute = active",
            "active_value = true",
            f"tls_ca_cert_file = {ca_copy}",
            "timeout_msecs = 5000",
        ]
        _write_file(path, "\n".join(lines) + "\n", mode=0o640, group=self._dovecot_internal_group)
        return path

    def _dovecot_flavour_values(self) -> dict[str, object]:
        """What another vendor's server does differently (see dev/other_imap.py)."""
        return {
            "namespace": (CONF_TEMPLATES / "namespace-standard.conf").read_text(encoding="utf-8"),
            "mail_home": "%Ld/%Ln",
            "mail_location": "maildir:~/Maildir:LAYOUT=fs",
            "imap_capability_setting": "",
        }

    def _dovecot_privilege_settings(self) -> str:
        if os.geteuid() == 0:
            return ""  # the packaged dovecot and dovenull users
        user, group = _current_user(), _current_group()
        return "\n".join(
            [
                f"default_login_user = {user}",
                f"default_internal_user = {user}",
                f"default_internal_group = {group}",
            ]
        )

    def _write_postfix_config(self) -> None:
        values = {
            "queue_dir": self._postfix_queue,
            "data_dir": self._postfix_dir / "data",
            "log_path": self._postfix_log,
            "state_dir": self.state_dir,
            "domains_map": self._postfix_etc / "virtual_domains",
            "mailboxes_map": self._postfix_etc / "virtual_mailboxes",
            "sender_logins_map": self._postfix_etc / "sender_logins",
            "recipient_access_map": self._postfix_etc / "recipient_access",
            "lmtp_port": self.lmtp,
            "server_cert": self._server_cert,
            "server_key": self._server_key,
            "sasl_socket": self._sasl_socket,
            "smtp_port": self.smtp,
            "submission_port": self.submission,
            "smtps_port": self.smtps,
        }
        for name in ("main.cf", "master.cf"):
            _write_file(self._postfix_etc / name, _render(name, values), mtime=_cold_mtime())

    def _write_postfix_maps(self, users: Iterable[str]) -> None:
        addresses = sorted(users)
        domains = sorted({address.split("@", 1)[1] for address in addresses})
        aliases: dict[str, list[str]] = {}
        for login, owner in self._read_logins().items():
            aliases.setdefault(owner, []).append(login)
        for address, senders in self._read_senders().items():
            aliases.setdefault(address, []).extend(senders)
        tables = {
            "virtual_domains": [f"{domain} OK" for domain in domains],
            "virtual_mailboxes": [f"{address} OK" for address in addresses],
            # Each login owns exactly its own address (reject_sender_login_mismatch), and
            # so do the other login names given to it (add_login).
            "sender_logins": [
                ", ".join([f"{address} {address}", *sorted(aliases.get(address, []))])
                for address in addresses
            ],
            # Known addresses pass (DUNNO stops the lookup before their domain's line).
            "recipient_access": [f"{address} DUNNO" for address in addresses]
            + [f"{domain} 550 5.1.1 Destinataire inconnu" for domain in domains],
        }
        for name, lines in tables.items():
            text = "".join(f"{line}\n" for line in lines)
            _write_file(self._postfix_etc / name, text, mtime=_cold_mtime())

    def _ensure_certificates(self) -> None:
        self._tls_dir.mkdir(mode=0o700, exist_ok=True)
        config = self._tls_dir / "openssl.cnf"
        server_ips = ", ".join(f"IP:{ip}" for ip in SERVER_CERT_IPS)
        _write_file(config, _ConfTemplate(OPENSSL_CONFIG).substitute(server_ips=server_ips))
        ca_key = self._tls_dir / "ca.key"
        renew_server = False
        if not (ca_key.exists() and self.ca_cert.exists()):
            _openssl(
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
                "-config", str(config), "-extensions", "ca_ext",
                "-keyout", str(ca_key), "-out", str(self.ca_cert),
            )  # fmt: skip
            renew_server = True
        if renew_server or not _certificate_is_current(
            self._server_cert, self._server_key, SERVER_CERT_IPS
        ):
            self._issue_server_certificate(config, ca_key)
        for key in (ca_key, self._server_key):
            key.chmod(0o600)
        self.ca_cert.chmod(0o644)
        self._server_cert.chmod(0o644)

    def _issue_server_certificate(self, config: Path, ca_key: Path) -> None:
        request = self._tls_dir / "server.csr"
        _openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
            "-config", str(config), "-subj", "/O=MSS webmail development/CN=localhost",
            "-keyout", str(self._server_key), "-out", str(request),
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(request), "-sha256", "-days", "3650",
            "-CA", str(self.ca_cert), "-CAkey", str(ca_key),
            "-set_serial", f"0x{secrets.token_hex(16)}",
            "-extfile", str(config), "-extensions", "server_ext",
            "-out", str(self._server_cert),
        )  # fmt: skip
        request.unlink()

    def issue_client_certificate(self, cert: Path, key: Path, subject: str) -> None:
        """A TLS client certificate signed by the stack's CA, e.g. for the webmail's mutual
        TLS at the Pro Santé Connect look-alike; ``subject`` in openssl's /O=../CN=.. form."""
        self._ensure_certificates()
        request = cert.with_suffix(".csr")
        _openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", subject,
            "-keyout", str(key), "-out", str(request),
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(request), "-sha256", "-days", "3650",
            "-CA", str(self.ca_cert), "-CAkey", str(self._tls_dir / "ca.key"),
            "-set_serial", f"0x{secrets.token_hex(16)}",
            "-extfile", str(self._tls_dir / "openssl.cnf"), "-extensions", "client_ext",
            "-out", str(cert),
        )  # fmt: skip
        request.unlink()
        key.chmod(0o600)

    def _client_tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))

    # -- accounts the services run as ----------------------------------------------------

    @property
    def _mail_user(self) -> str:
        return "nobody" if os.geteuid() == 0 else _current_user()

    @property
    def _mail_group(self) -> str:
        return "nogroup" if os.geteuid() == 0 else _current_group()

    @property
    def _postfix_user(self) -> str:
        return "postfix" if os.geteuid() == 0 else _current_user()

    @property
    def _postfix_group(self) -> str:
        return "postfix" if os.geteuid() == 0 else _current_group()

    @property
    def _dovecot_internal_group(self) -> str:
        return "dovecot" if os.geteuid() == 0 else _current_group()

    # -- readiness -----------------------------------------------------------------------

    def _wait_ready(
        self,
        service: str,
        checks: list[tuple[tuple[str, int], Callable[[tuple[str, int]], bool]]],
        log: Path,
    ) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        for address, answers in checks:
            if not _wait_until(functools.partial(answers, address), deadline - time.monotonic()):
                host, port = address
                raise RuntimeError(
                    f"{service} does not answer on {host}:{port} after {READY_TIMEOUT:.0f} s;"
                    f" end of {log}:\n{_tail(log)}"
                )


# -- processes -------------------------------------------------------------------------------


def _run(command: list[str], what: str, log: Path) -> None:
    # A file, not a pipe: a daemon that keeps the inherited descriptor open would make
    # reading a pipe to its end wait forever.
    with tempfile.TemporaryFile() as output:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=output, check=False
        )
        output.seek(0)
        message = output.read().decode("utf-8", errors="replace").strip()
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {result.returncode}): {message}\nend of {log}:\n{_tail(log)}"
        )


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _live_pid(pid_file: Path, recognise: Callable[[int], bool]) -> int | None:
    """The pid in pid_file if that process is alive and runs the expected program."""
    pid = _read_pid(pid_file)
    return pid if pid is not None and _is_alive(pid) and recognise(pid) else None


# Recognisers: a pid from a stale pid file may belong to anything by now.


def _runs_dovecot(pid: int) -> bool:
    path = _program_path(pid)
    return os.path.basename(path) == "dovecot" or "/dovecot/" in path  # master or a service


def _runs_postfix(pid: int) -> bool:
    return "/postfix/" in _program_path(pid)


def _runs_redis(pid: int) -> bool:
    return os.path.basename(_program_path(pid)).startswith("redis-")


def _runs_legacy_relay(pid: int) -> bool:
    return b"imap-relay" in _command_line(pid).split(b"\0")


def _stop_daemon(pid_file: Path, recognise: Callable[[int], bool]) -> None:
    """Stop the daemon and every process of its session, then drop its pid file.

    The daemons are session leaders, so their children are found even when the leader has
    crashed, and a restart never races with leftovers still holding ports and sockets.
    """
    leader = _read_pid(pid_file)
    if leader is not None:

        def remaining() -> list[int]:
            members = _session_members(leader)
            if leader not in members and _is_alive(leader):
                members.append(leader)
            return [pid for pid in members if recognise(pid)]

        # After a crash of the leader, its children are signalled directly.
        targets = [leader] if leader in remaining() else remaining()
        for pid in targets:
            _signal(pid, signal.SIGTERM)
        if not _wait_until(lambda: not remaining(), STOP_TIMEOUT):
            for pid in remaining():
                _signal(pid, signal.SIGKILL)
            _wait_until(lambda: not remaining(), STOP_TIMEOUT)
    # A stale pid file could make the daemon believe it is already running.
    pid_file.unlink(missing_ok=True)


def _session_members(session: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            # fields[0] is the state (field 3 of /proc/<pid>/stat), fields[3] the session.
            if len(fields) > 3 and fields[0] != "Z" and fields[3] == str(session):
                members.append(int(entry.name))
    return members


def _is_alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"  # a zombie has exited already


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 on (after the parenthesised command name)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat.rpartition(")")[2].split()


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _program_path(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:  # another user's process, when not root
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)


def _wait_ports_released(addresses: list[tuple[str, int]]) -> None:
    # Children of a killed master can hold the listening sockets for a moment.
    for host, port in addresses:
        if not _wait_until(functools.partial(_port_is_closed, (host, port)), PORT_RELEASE_TIMEOUT):
            raise RuntimeError(
                f"{host}:{port} is still in use: another stack with the same base port?"
            )


# -- network probes --------------------------------------------------------------------------


def _port_is_closed(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1.0):
            return False
    except OSError:
        return True


def _greets(address: tuple[str, int], greeting: bytes, tls: ssl.SSLContext | None = None) -> bool:
    """True when the server at address sends a first line starting with greeting."""
    try:
        with socket.create_connection(address, timeout=2.0) as raw:
            if tls is None:
                return _read_line(raw).startswith(greeting)
            with tls.wrap_socket(raw, server_hostname="localhost") as wrapped:
                return _read_line(wrapped).startswith(greeting)
    except OSError:  # ssl.SSLError included
        return False


def _redis_answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2.0) as sock:
            sock.sendall(b"PING\r\n")
            return _read_line(sock).startswith(b"+PONG")
    except OSError:
        return False


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n") and len(data) < 4096:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _dovecot_authenticates(socket_path: Path, address: str, password: str) -> bool:
    """One PLAIN authentication through Dovecot's auth-client protocol, as a login would."""
    credentials = base64.b64encode(f"\0{address}\0{password}".encode()).decode("ascii")
    request = (
        f"VERSION\t1\t2\nCPID\t{os.getpid()}\n"
        f"AUTH\t1\tPLAIN\tservice=stack-probe\tsecured\tno-penalty\tresp={credentials}\n"
    )
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5.0)
            sock.connect(str(socket_path))
            sock.sendall(request.encode())
            received = b""
            while chunk := sock.recv(4096):
                received += chunk
                for line in received.split(b"\n")[:-1]:
                    if line.startswith((b"OK\t1\t", b"FAIL\t1\t")):
                        return line.startswith(b"OK")
    except OSError:
        pass
    return False


def _smtp_accepts_recipient(port: int, address: str) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5.0) as client:
            client.ehlo("probe.localhost")
            client.mail("")
            code, _ = client.rcpt(address)
            client.rset()
            return code == 250
    except (OSError, smtplib.SMTPException):
        return False


# -- files -----------------------------------------------------------------------------------


def _render(template_name: str, values: dict[str, object]) -> str:
    text = (CONF_TEMPLATES / template_name).read_text(encoding="utf-8")
    return _ConfTemplate(text).substitute({key: str(value) for key, value in values.items()})


def _write_file(
    path: Path,
    text: str,
    *,
    mode: int = 0o644,
    group: str | None = None,
    mtime: float | None = None,
) -> None:
    """Replace path atomically: readers (Dovecot, smtpd) never see half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(mode)
    if group is not None and os.geteuid() == 0:
        os.chown(temporary, 0, grp.getgrnam(group).gr_gid)
    if mtime is not None:
        os.utime(temporary, (mtime, mtime))
    temporary.replace(path)


def _cold_mtime() -> float:
    """An mtime for files Postfix reads.

    Postfix re-reads a configuration file or texthash table modified within the last
    second or so ("hot"), 300 ms at a time, until it cools down: every start or new smtpd
    would wait ~2 s. Our writes are atomic renames, so the files can safely look older.
    """
    return time.time() - 10


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _remove_sockets(directory: Path) -> None:
    # Dovecot replaces the sockets it listens on, but not those of a disabled listener
    # (mode = 0): its clients then find a dead socket instead of none, and retry for 5 s.
    for path in directory.rglob("*"):
        if path.is_socket():
            path.unlink(missing_ok=True)


def _chown(path: Path, user: str, group: str, *, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if os.geteuid() == 0:
        os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)


def _require_traversable(directory: Path) -> None:
    for path in [directory, *directory.parents]:
        if not path.stat().st_mode & 0o001:
            raise RuntimeError(
                f"{path} is not searchable by other users, but the mail services run"
                f" unprivileged and must reach {directory}: choose another state dir"
            )


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            return file.read()
    except FileNotFoundError:
        return b""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        content = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(content.splitlines()[-lines:])


# -- small helpers ---------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _certificate_is_current(cert: Path, key: Path, ips: Iterable[str]) -> bool:
    """The certificate and its key exist, it is valid for at least another day, and its
    subjectAltName covers every one of ips (older stacks issued it for 127.0.0.1 only)."""
    if not (cert.exists() and key.exists()):
        return False
    result = subprocess.run(
        ["openssl", "x509", "-noout", "-checkend", "86400", "-ext", "subjectAltName",
         "-in", str(cert)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        return False
    covered = set(re.findall(r"IP Address:([0-9.]+)", result.stdout))
    return covered.issuperset(ips)


def _ssha512(password: str) -> str:
    """Dovecot's {SSHA512}: base64(sha512(password + salt) + salt)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.sha512(password.encode("utf-8") + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode("ascii")


def _acl_names(rights: str) -> list[str]:
    return [ACL_RIGHTS[letter] for letter in dict.fromkeys(rights)]


def _normalize_address(address: str) -> str:
    normalized = address.strip().lower()
    if not ADDRESS_RE.fullmatch(normalized):
        raise ValueError(f"unsupported mail address: {address!r}")
    return normalized


def _current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def _current_group() -> str:
    return grp.getgrgid(os.getegid()).gr_name


# -- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m dev.stack",
        description="Local Dovecot + Postfix + Redis on 127.0.0.1 for the demo and the tests.",
    )
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--state", type=Path, required=True, help="state directory")
    parser.add_argument("--base-port", type=int, default=10000, help="default: 10000")
    args = parser.parse_args(arguments)
    stack = Stack(args.state, args.base_port)
    try:
        if args.command == "start":
            stack.start()
        elif args.command == "stop":
            stack.stop()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _print_status(stack)
    return 0


def _print_status(stack: Stack) -> None:
    pids = stack.status()
    ports = {
        "redis": f"redis {stack.redis}",
        "dovecot": f"imap {stack.imap_host}:{stack.imap} (STARTTLS), imaps {stack.imaps},"
        f" lmtp {stack.lmtp}",
        "postfix": f"smtp {stack.smtp}, submission {stack.submission}, smtps {stack.smtps}",
    }
    for service, pid in pids.items():
        state = f"running (pid {pid})" if pid else "stopped"
        print(f"{service:10} {state:22} {ports[service]}")
    print(f"CA bundle: {stack.ca_cert}")


if __name__ == "__main__":
    sys.exit(main())
