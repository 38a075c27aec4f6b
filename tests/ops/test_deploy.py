"""The shipped systemd units: systemd's own checker finds nothing, and the hardening holds."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def installed_copy(tmp_path: Path, unit: str, name: str) -> Path:
    """The unit as installed, its ExecStart pointing at this checkout's console script
    (verify wants the program to exist)."""
    script = Path(sys.executable).parent / "mss-webmail"
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    copy = tmp_path / name
    copy.write_text(text.replace("/opt/mss-webmail/.venv/bin/mss-webmail", str(script)))
    return copy


@pytest.mark.parametrize(
    ("unit", "name"),
    [
        ("mss-webmail.service", "mss-webmail.service"),
        ("mss-webmail@.service", "mss-webmail@8001.service"),
    ],
)
def test_units_verify_cleanly_and_are_hardened(tmp_path: Path, unit: str, name: str) -> None:
    copy = installed_copy(tmp_path, unit, name)
    checked = subprocess.run(
        [str(ANALYZE), "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    # verify exits 0 even past an unknown key; what it says about our file is the verdict.
    said = [line for line in (checked.stdout + checked.stderr).splitlines() if name in line]
    assert checked.returncode == 0 and not said, checked.stdout + checked.stderr
    security = subprocess.run(
        # The threshold counts tenths: 20 is an exposure of 2.0.
        [str(ANALYZE), "security", "--offline=yes", "--threshold=20", str(copy)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert exposure is not None, security.stdout + security.stderr
    assert float(exposure.group(1)) <= 2.0 and security.returncode == 0, security.stdout[-2000:]


def test_every_hardening_setting_the_guide_promises() -> None:
    text = (DEPLOY / "mss-webmail.service").read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
    )
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "StateDirectory": "mss-webmail",
    }.items():
        assert settings.get(key) == value, key
    assert "MemoryMax" in settings and "RestrictAddressFamilies" in settings
    assert "@system-service" in text
