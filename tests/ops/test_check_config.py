"""``mss-webmail check-config`` against the real stack, and against certificates and servers
that are wrong in each way an operator meets: one line per check, a non-zero exit."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dev.stack import Stack
from tests.conftest import PSC_REDIRECT_URI, ROOT, TEST_BASE_PORT
from tests.ops.certificates import make_ca, make_leaf
from tests.ops.fake_imaps import fake_imaps
from webmail.ops.check import check_config

FAKE_PORT = TEST_BASE_PORT + 474
Run = Callable[..., tuple[int, dict[str, str]]]


@pytest.fixture
def run(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """check-config with the stack's settings and ``changes``: (exit status, line per check)."""

    def run_with(**changes: str) -> tuple[int, dict[str, str]]:
        for name, value in {**env, **changes}.items():
            monkeypatch.setenv(name, value)
        out = io.StringIO()
        status = check_config(out)
        lines = {}
        for line in out.getvalue().splitlines():
            words = line.split(None, 2)
            if words and words[0] in ("OK", "WARN", "FAIL"):
                lines[words[1]] = f"{words[0]} {words[2] if len(words) > 2 else ''}"
        return status, lines

    return run_with


def test_all_good_on_the_stack(run: Run) -> None:
    status, lines = run()
    assert status == 0, lines
    assert set(lines) == {"settings", "imap", "smtp", "redis"}
    assert all(line.startswith("OK") for line in lines.values()), lines
    # The stack's plain IMAP port refuses LOGIN before STARTTLS, and says so.
    assert "LOGINDISABLED before TLS" in lines["imap"]
    assert "TLSv1.3" in lines["imap"] and "certificate valid until" in lines["imap"]
    assert "SASL: " in lines["smtp"] and "PLAIN" in lines["smtp"]


def test_implicit_tls_ports(run: Run, stack: Stack) -> None:
    status, lines = run(
        MSS_IMAP_TLS="implicit",
        MSS_IMAP_PORT=str(stack.imaps),
        MSS_IMAP_HOST="localhost",
        MSS_SMTP_TLS="implicit",
        MSS_SMTP_PORT=str(stack.smtps),
    )
    assert status == 0, lines
    assert "XOAUTH2" in lines["imap"]


def test_a_wrong_port_fails_its_line(run: Run, stack: Stack) -> None:
    status, lines = run(MSS_IMAP_PORT=str(TEST_BASE_PORT + 9))
    assert status == 1
    assert lines["imap"].startswith("FAIL") and "cannot connect" in lines["imap"]
    assert lines["smtp"].startswith("OK")
    # An IMAP port given as SMTP's: the greeting says it is not SMTP.
    status, lines = run(MSS_SMTP_PORT=str(stack.imap), MSS_SMTP_HOST=stack.imap_host)
    assert status == 1 and "not an SMTP" in lines["smtp"]


def test_unreachable_redis(run: Run) -> None:
    status, lines = run(MSS_REDIS_URL=f"redis://127.0.0.1:{TEST_BASE_PORT + 9}/0")
    assert status == 1
    assert lines["redis"].startswith("FAIL") and "unreachable" in lines["redis"]
    assert lines["imap"].startswith("OK")


def test_a_wrong_setting_stops_at_the_settings(run: Run) -> None:
    status, lines = run(MSS_IMAP_TLS="ssl")
    assert status == 2
    assert lines == {"settings": lines["settings"]}
    assert "MSS_IMAP_TLS" in lines["settings"]


@pytest.mark.parametrize(
    ("days_left", "signed", "expected_status", "expected"),
    [
        (-3, True, 1, "FAIL certificate refused: it has expired"),
        (400, False, 1, "FAIL certificate refused: it is self-signed"),
        (10, True, 0, "WARN"),
    ],
)
def test_certificates_expired_self_signed_or_expiring(
    run: Run,
    stack: Stack,
    tmp_path: Path,
    days_left: int,
    signed: bool,
    expected_status: int,
    expected: str,
) -> None:
    ca, ca_cert, ca_key = make_ca(tmp_path)
    # The bundle holds the stack's CA too, so that only the IMAP line is about this certificate.
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(ca.cert.read_bytes() + stack.ca_cert.read_bytes())
    leaf = make_leaf(
        tmp_path, "imap", "localhost", days_left=days_left,
        issuer=(ca_cert, ca_key) if signed else None,
    )  # fmt: skip
    with fake_imaps(leaf, FAKE_PORT):
        status, lines = run(
            MSS_IMAP_HOST="localhost",
            MSS_IMAP_PORT=str(FAKE_PORT),
            MSS_IMAP_TLS="implicit",
            MSS_CA_BUNDLE=str(bundle),
        )
    assert status == expected_status, lines
    assert lines["imap"].startswith(expected), lines
    if days_left == 10:
        assert "expires in" in lines["imap"]


def test_a_certificate_for_another_host(run: Run, tmp_path: Path) -> None:
    ca, ca_cert, ca_key = make_ca(tmp_path)
    leaf = make_leaf(tmp_path, "imap", "imap.other.test", days_left=300, issuer=(ca_cert, ca_key))
    with fake_imaps(leaf, FAKE_PORT):
        status, lines = run(
            MSS_IMAP_HOST="localhost",
            MSS_IMAP_PORT=str(FAKE_PORT),
            MSS_IMAP_TLS="implicit",
            MSS_CA_BUNDLE=str(ca.cert),
        )
    assert status == 1
    assert "not issued for this host name" in lines["imap"], lines


def test_pro_sante_connect_discovery(run: Run, psc: object) -> None:
    provider = psc
    status, lines = run(
        MSS_PSC_ENABLED="true",
        MSS_PSC_ISSUER=provider.issuer,  # type: ignore[attr-defined]
        MSS_PSC_CLIENT_ID=provider.client_id,  # type: ignore[attr-defined]
        MSS_PSC_CLIENT_SECRET=provider.client_secret,  # type: ignore[attr-defined]
        MSS_PSC_REDIRECT_URI=PSC_REDIRECT_URI,
    )
    assert status == 0, lines
    assert lines["psc"].startswith("OK") and "endpoints present" in lines["psc"]
    # A discovery URL that is not the provider's: the line says so, the exit says failure.
    status, lines = run(
        MSS_PSC_ENABLED="true",
        MSS_PSC_ISSUER=provider.issuer,  # type: ignore[attr-defined]
        MSS_PSC_DISCOVERY_URL=f"https://localhost:{TEST_BASE_PORT + 9}/.well-known/x",
        MSS_PSC_CLIENT_ID="x",
        MSS_PSC_CLIENT_SECRET="y",
        MSS_PSC_REDIRECT_URI=PSC_REDIRECT_URI,
    )
    assert status == 1 and lines["psc"].startswith("FAIL"), lines


def test_the_console_script_has_the_command(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "webmail.cli", "check-config"],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines()] == [
        "settings", "imap", "smtp", "redis",
    ]  # fmt: skip
