"""A Pro Santé Connect look-alike OpenID provider beside the local stack (dev/oidc/).

The npm package oidc-provider 8.x (Node.js 20), set up like PSC: the wallet discovery path,
acr eidas1, PSC's claims under scope_all, code flow with PKCE S256, the webmail's client
with a secret and again with mutual TLS (``<id>-mtls``, RFC 8705 tls_client_auth, its
certificate issued by the stack's CA), short token lifetimes, rotated refresh tokens,
introspection, userinfo as JSON or signed JWT. It serves HTTPS with the stack's server
certificate, so clients trust it through the stack's CA bundle, like the other servers;
its mTLS endpoint aliases listen on a port of their own. Installed by dev/install.sh
(``npm ci`` in dev/oidc).

    python -m dev.psc start|stop --state DIR [--base-port N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from dev.stack import (
    LOOPBACK,
    PSC_CLIENT_ID,
    Stack,
    _openssl,
    _tail,
    _wait_ports_released,
    _wait_until,
)

PROVIDER_DIR = Path(__file__).with_name("oidc")
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
# The subject of the webmail's client certificate, and the DN registered for it (RFC 8705
# tls_client_auth_subject_dn, RFC 4514 order: most specific first).
MTLS_SUBJECT = "/O=MSS webmail development/CN=mss-webmail-mtls"
MTLS_SUBJECT_DN = "CN=mss-webmail-mtls,O=MSS webmail development"

# The demo practitioners: their claims as PSC would return them.
DEMO_ACCOUNTS: dict[str, dict[str, object]] = {
    "899700000001": {
        "SubjectNameID": "899700000001",
        "given_name": "Claire",
        "family_name": "Martin",
        "preferred_username": "899700000001",
        "SubjectRole": ["10^1.2.250.1.213.1.1.5.5^G15_10/SM26^médecin"],
        "SubjectRefPro": {
            "codeCivilite": "DR",
            "exercices": [
                {
                    "codeProfession": "10",
                    "codeCategorieProfessionnelle": "C",
                    "codeSavoirFaire": "SM26",
                    "nomDexercice": "MARTIN",
                    "prenomDexercice": "Claire",
                    "activities": [{"raisonSocialeSite": "Cabinet du Dr Martin"}],
                }
            ],
        },
        # The demo's GP (dev/corpus.py).
        "email": "dr.martin@medecin.mssante.test",
    },
    # Its tokens name another mailbox than its email claim: the mail server refuses them.
    "899700000002": {
        "SubjectNameID": "899700000002",
        "given_name": "Alex",
        "family_name": "Bernard",
        "email": "alex.bernard@medecin.mssante.test",
        "token_email": "someone.else@medecin.mssante.test",
    },
}


@dataclass
class PscProvider:
    """The provider of one stack: HTTPS on 127.0.0.1 at Stack.psc (base port + 444)."""

    stack: Stack
    access_ttl: int = 120
    refresh_ttl: int = 1800
    id_token_ttl: int = 120
    # Backchannel (CIBA) requests: the polling interval the provider asks for, and how long
    # a request waits on the phone (PSC's are minutes; tests shorten both).
    ciba_interval: int = 5
    ciba_expires_in: int = 120
    redirect_uris: list[str] = field(default_factory=lambda: ["https://localhost/psc/callback"])
    accounts: dict[str, dict[str, object]] = field(default_factory=lambda: dict(DEMO_ACCOUNTS))
    # Kept so that stop() reaps the child this object started.
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def port(self) -> int:
        return self.stack.psc

    @property
    def issuer(self) -> str:
        return self.stack.psc_issuer

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/wallet-openid-configuration"

    @property
    def client_id(self) -> str:
        return PSC_CLIENT_ID

    @property
    def client_secret(self) -> str:
        return self.stack.psc_client_secret

    @property
    def mtls_client_id(self) -> str:
        """The same webmail registered with tls_client_auth instead of a secret."""
        return f"{PSC_CLIENT_ID}-mtls"

    @property
    def client_cert(self) -> Path:
        """PEM of the webmail's client certificate for mutual TLS (signed by the stack's CA)."""
        return self._dir / "client.pem"

    @property
    def client_key(self) -> Path:
        return self._dir / "client.key"

    @property
    def mtls_url(self) -> str:
        """Base of the mTLS endpoint aliases that discovery lists."""
        return f"https://localhost:{self.stack.psc_mtls}"

    def grants(self, account: str) -> dict[str, int]:
        """How many tokens the provider granted to ``account``, by grant type and listener
        (``refresh_token@mtls``...): what a test counts."""
        context = ssl.create_default_context(cafile=str(self.stack.ca_cert))
        url = f"{self.issuer}/dev/grants?{urllib.parse.urlencode({'account': account})}"
        # An https URL of our own making.
        with urllib.request.urlopen(url, context=context, timeout=5) as reply:  # noqa: S310
            counts = json.load(reply)
        return {str(key): int(value) for key, value in counts.items()}

    @property
    def signing_key(self) -> Path:
        """PEM of the RSA key that signs the ID tokens (tests forge tokens with it)."""
        return self._dir / "signing.key"

    @property
    def _dir(self) -> Path:
        return self.stack.state_dir / "psc"

    @property
    def _config(self) -> Path:
        return self._dir / "provider.json"

    @property
    def _pid_file(self) -> Path:
        return self._dir / "provider.pid"

    @property
    def _log(self) -> Path:
        return self._dir / "provider.log"

    def start(self) -> None:
        """(Re)start the provider and wait until its discovery document answers."""
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(f"oidc-provider is not installed: run npm ci in {PROVIDER_DIR}")
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("Node.js (node) is not installed")
        self.stop()
        self._dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        _wait_ports_released([(LOOPBACK, self.port), (LOOPBACK, self.stack.psc_mtls)])
        with open(self._log, "ab") as log:
            self._process = process = subprocess.Popen(
                [node, str(PROVIDER_DIR / "provider.mjs"), str(self._config)],
                cwd=PROVIDER_DIR, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
            )  # fmt: skip
        self._pid_file.write_text(str(process.pid))
        if not _wait_until(self._answers, READY_TIMEOUT):
            self.stop()
            raise RuntimeError(
                f"the OpenID provider does not answer on {self.issuer}; end of {self._log}:\n"
                f"{_tail(self._log)}"
            )

    def stop(self) -> None:
        try:
            pid = int(self._pid_file.read_text())
        except (OSError, ValueError):
            return
        if _is_provider(pid):
            os.killpg(pid, signal.SIGTERM)
            if not _wait_until(lambda: not _is_provider(pid), STOP_TIMEOUT):
                os.killpg(pid, signal.SIGKILL)
        if self._process is not None:
            self._process.wait(STOP_TIMEOUT)
            self._process = None
        self._pid_file.unlink(missing_ok=True)
        _wait_ports_released([(LOOPBACK, self.port), (LOOPBACK, self.stack.psc_mtls)])

    def _write_config(self) -> None:
        if not self.signing_key.exists():
            _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                     "-out", str(self.signing_key))  # fmt: skip
            self.signing_key.chmod(0o600)
        if not (self.client_cert.exists() and self.client_key.exists()):
            self.stack.issue_client_certificate(self.client_cert, self.client_key, MTLS_SUBJECT)
        config = {
            "host": LOOPBACK,
            "port": self.port,
            "issuer": self.issuer,
            "tls": {"cert": str(self.stack.server_cert), "key": str(self.stack.server_key)},
            "client": {
                "id": self.client_id,
                "secret": self.client_secret,
                "redirect_uris": self.redirect_uris,
                # What PscConfig.post_logout_redirect_uri makes of each redirect URI.
                "post_logout_redirect_uris": [
                    uri.removesuffix("/callback") + "/logout"
                    for uri in self.redirect_uris
                ],
            },
            "mtls": {
                "port": self.stack.psc_mtls,
                "url": self.mtls_url,
                "ca": str(self.stack.ca_cert),
                "client_id": self.mtls_client_id,
                "subject_dn": MTLS_SUBJECT_DN,
            },
            "ttl": {
                "access": self.access_ttl,
                "refresh": self.refresh_ttl,
                "id_token": self.id_token_ttl,
            },
            "ciba": {"interval": self.ciba_interval, "expires_in": self.ciba_expires_in},
            "signing_key": str(self.signing_key),
            "accounts": self.accounts,
            "cookie_keys": [secrets.token_urlsafe(32)],
        }
        self._config.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
        self._config.chmod(0o600)

    def _answers(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.stack.ca_cert))
        try:
            # An https URL of our own making.
            with urllib.request.urlopen(self.discovery_url, context=context, timeout=2) as reply:  # noqa: S310
                return bool(json.load(reply).get("issuer") == self.issuer)
        except (OSError, ValueError):
            return False


def _is_provider(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"provider.mjs" in command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.psc", description=__doc__)
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--state", type=Path, required=True, help="the stack's state directory")
    parser.add_argument("--base-port", type=int, default=10000, help="default: 10000")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    provider = PscProvider(Stack(args.state, args.base_port))
    try:
        provider.start() if args.command == "start" else provider.stop()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.command == "start":
        print(f"issuer {provider.issuer}, client {provider.client_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
