"""The webmail served for real (`python -m webmail`) on a free loopback port, for tests that
need a real HTTP server in front of the browser or a reverse proxy."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_responds(url: str, timeout: float = 20.0, **kwargs: object) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, **kwargs) as response:  # type: ignore[arg-type]  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer")
        time.sleep(0.2)


@contextlib.contextmanager
def served_webmail(
    env: Mapping[str, str], *args: str, port: int | None = None
) -> Iterator[tuple[str, int]]:
    """Runs the webmail with ``env`` (on ``port``, else a free one); yields its base URL and
    port."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "webmail", "--port", str(port), *args],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_responds(url + "/healthz")
        yield url, port
    finally:
        process.terminate()
        process.wait(timeout=10)
