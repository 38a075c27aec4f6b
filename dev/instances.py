"""Several webmail instances behind the shipped nginx configuration, on loopback.

The site file and its snippets (``nginx/``) run as they are; only what differs on this machine
is changed: listening address, upstream ports, certificate and static paths. Used by the tests
of the deployment and available to try the production setup by hand.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dev.stack import OPENSSL_CONFIG, Stack, _openssl

ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"
SNIPPETS = "/etc/nginx/mss-webmail/"


@dataclass(frozen=True)
class CardAuthority:
    """A test certification authority standing for IGC-Santé's card authorities."""

    cert: Path
    key: Path
    config: Path

    @classmethod
    def create(cls, directory: Path, name: str = "Test AC IGC-Sante Personnes") -> CardAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "openssl.cnf"
        config.write_text(OPENSSL_CONFIG.replace("@@server_ips", "IP:127.0.0.1"))
        authority = cls(directory / "ca.pem", directory / "ca.key", config)
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
            "-config", str(config), "-extensions", "ca_ext", "-subj", f"/O=Test/CN={name}",
            "-keyout", str(authority.key), "-out", str(authority.cert),
        )  # fmt: skip
        return authority

    def issue_card(self, directory: Path, subject: str) -> tuple[Path, Path]:
        """A card's authentication certificate and its key; ``subject`` in openssl's form."""
        stem = secrets.token_hex(4)
        key, request, cert = (directory / f"{stem}{s}" for s in (".key", ".csr", ".pem"))
        _openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", subject,
            "-keyout", str(key), "-out", str(request),
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(request), "-sha256", "-days", "30",
            "-CA", str(self.cert), "-CAkey", str(self.key),
            "-set_serial", f"0x{secrets.token_hex(8)}",
            "-extfile", str(self.config), "-extensions", "client_ext", "-out", str(cert),
        )  # fmt: skip
        return cert, key


def local_site(
    *,
    port: int,
    upstreams: Sequence[int],
    stack: Stack,
    static_root: Path,
    card_ca: Path,
    snippets: Path,
) -> str:
    """The shipped site file with this machine's addresses and paths; its snippets copied
    to ``snippets`` with their certificate paths changed the same way."""
    snippets.mkdir(parents=True, exist_ok=True)
    for shipped in (ROOT / "nginx").glob("*.conf"):
        if shipped.name != "mss-webmail.conf":
            text = _certificates(shipped.read_text(), stack, card_ca)
            (snippets / shipped.name).write_text(text.replace(SNIPPETS, f"{snippets}/"))
    shutil.copytree(ROOT / "nginx/errors", snippets / "errors", dirs_exist_ok=True)
    site = (ROOT / "nginx/mss-webmail.conf").read_text()
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
    site = site.replace("listen [::]:443 ssl http2;\n", "")
    servers = "".join(
        f"    server 127.0.0.1:{upstream} max_fails=2 fail_timeout=10s;\n" for upstream in upstreams
    )
    site = re.sub(r"(    server 127\.0\.0\.1:800\d [^\n]*\n)+", servers, site)
    site = site.replace("/srv/mss-webmail", str(static_root))
    site = site.replace(SNIPPETS, f"{snippets}/")
    # The plain-http redirect server is not needed here.
    site = site.split("server {\n    listen 80;")[0]
    return _certificates(site, stack, card_ca)


def _certificates(text: str, stack: Stack, card_ca: Path) -> str:
    for shipped, local in (
        ("/etc/ssl/mss-webmail/fullchain.pem", stack.server_cert),
        ("/etc/ssl/mss-webmail/privkey.pem", stack.server_key),
        ("/etc/ssl/mss-webmail/igc-sante-ca.pem", card_ca),
    ):
        text = text.replace(shipped, str(local))
    return text


def main_config(state: Path, site: Path) -> str:
    """An nginx.conf for an unprivileged nginx whose every file lives in ``state``."""
    # As root, nginx's workers would run as nobody, who cannot read a test's files.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    return f"""
{user}
daemon off;
pid {state}/nginx.pid;
error_log {state}/error.log warn;
events {{ worker_connections 128; }}
http {{
    client_body_temp_path {state}/body;
    proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi;
    uwsgi_temp_path {state}/uwsgi;
    scgi_temp_path {state}/scgi;
    types {{ text/html html; text/css css; application/javascript js; }}
    include {site};
}}
"""


def nginx_test(state: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NGINX, "-t", "-p", str(state), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )


@contextlib.contextmanager
def running_nginx(state: Path, site_text: str) -> Iterator[Path]:
    """nginx with ``site_text``; yields its error log. Checked with ``nginx -t`` first."""
    site = state / "site.conf"
    site.write_text(site_text)
    config = state / "nginx.conf"
    config.write_text(main_config(state, site))
    checked = nginx_test(state, config)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}")
    process = subprocess.Popen(
        [NGINX, "-p", str(state), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # nginx logs to error_log above
    )
    try:
        yield state / "error.log"
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Instance:
    """One `python -m webmail` process."""

    port: int
    audit_log: Path
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """As a crash would: no graceful shutdown."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_instance(env: Mapping[str, str], port: int, audit_log: Path) -> Instance:
    """An instance sharing ``env`` (same secret key, same Redis) with the others."""
    process = subprocess.Popen(
        [sys.executable, "-m", "webmail", "--port", str(port)],
        env={**os.environ, **env, "MSS_AUDIT_LOG": str(audit_log)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Instance(port, audit_log, process)
