"""The shipped nginx configuration, run by the real nginx in front of the served webmail."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.env import webmail_env
from dev.stack import Stack
from tests.conftest import ROOT
from tests.served import free_port, served_webmail, wait_until_responds

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def local_site(shipped: str, *, port: int, upstream: int, stack: Stack) -> str:
    """The shipped site with only what differs on this machine changed: addresses and paths."""
    site = shipped.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
    site = re.sub(r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream};", site)
    site = site.replace(
        "/etc/ssl/mss-webmail/fullchain.pem", str(stack.state_dir / "tls/server.pem")
    )
    site = site.replace("/etc/ssl/mss-webmail/privkey.pem", str(stack.state_dir / "tls/server.key"))
    site = site.replace("/srv/mss-webmail/static/", f"{ROOT / 'static'}/")
    # The plain-http redirect server is not needed here.
    return site.split("server {\n    listen 80;")[0]


@pytest.fixture(scope="module")
def proxied(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("nginx")
    with served_webmail(webmail_env(stack, MSS_COOKIE_SECURE="true"), "--proxy-headers") as (
        _url,
        upstream,
    ):
        port = free_port()
        site = local_site(
            (ROOT / "nginx/mss-webmail.conf").read_text(), port=port, upstream=upstream, stack=stack
        )
        (state / "site.conf").write_text(site)
        (state / "nginx.conf").write_text(
            f"""
daemon off;
pid {state}/nginx.pid;
error_log {state}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {state}/body;
    proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi;
    uwsgi_temp_path {state}/uwsgi;
    scgi_temp_path {state}/scgi;
    types {{ text/css css; application/javascript js; }}
    include {state}/site.conf;
}}
"""
        )
        process = subprocess.Popen(
            [NGINX, "-p", str(state), "-c", str(state / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # nginx logs to error_log above
        )
        url = f"https://localhost:{port}"
        try:
            try:
                wait_until_responds(url + "/healthz", context=_tls(stack))
            except AssertionError:
                raise AssertionError((state / "error.log").read_text()) from None
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def _tls(stack: Stack) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(stack.ca_cert))


def _headers(url: str, stack: Stack) -> dict[str, str]:
    request = urllib.request.Request(url)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, context=_tls(stack)) as response:  # noqa: S310
            return {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return {k.lower(): v for k, v in error.headers.items()}


@pytest.mark.parametrize("path", ["/static/app.css", "/login", "/mail", "/no-such-page"])
def test_every_answer_carries_hsts(proxied: str, stack: Stack, path: str) -> None:
    headers = _headers(proxied + path, stack)
    assert headers.get("strict-transport-security", "").startswith("max-age=63072000")


def test_static_files_are_cacheable_and_not_sniffed(proxied: str, stack: Stack) -> None:
    headers = _headers(proxied + "/static/app.css", stack)
    assert "public" in headers["cache-control"]
    assert headers["x-content-type-options"] == "nosniff"


def test_pages_behind_the_proxy_are_not_stored_and_set_secure_cookies(
    proxied: str, stack: Stack
) -> None:
    headers = _headers(proxied + "/login", stack)
    assert headers["cache-control"] == "no-store"
    cookie = headers["set-cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie


def test_shipped_config_is_valid_for_nginx(tmp_path: Path) -> None:
    result = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(ROOT / "nginx/mss-webmail.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    # The site file is an http-level include, not a main config: nginx says so, and only so.
    assert '"upstream" directive is not allowed here' in result.stderr
