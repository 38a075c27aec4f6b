"""The shipped nginx configuration, run by the real nginx in front of two webmail instances."""

from __future__ import annotations

import concurrent.futures
import contextlib
import gzip
import itertools
import json
import shutil
import signal
import socket
import ssl
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from dev.env import webmail_env
from dev.instances import (
    CardAuthority,
    Instance,
    local_site,
    main_config,
    nginx_test,
    running_nginx,
    start_instance,
)
from dev.stack import Stack
from tests.conftest import (
    ROOT,
    MailUser,
    deliver,
    imap_for,
    new_user,
    simple_mail,
    wait_for_messages,
)
from tests.deploy.browser import Answer, Browser, field_value
from tests.served import free_port, wait_until_responds
from webmail.assets import STATIC_ASSETS
from webmail.settings import Settings

# The app's stylesheet bundle: hashed names are the app's, asked of it by nginx.
HASHED_CSS = STATIC_ASSETS.url("app.css").removeprefix("/static/")
# Each test speaks from its own loopback address: nginx's sign-in rate limit counts per address.
_SOURCES = (f"127.0.0.{n}" for n in itertools.count(10))


CARD_ID = "810001234567"


@dataclass
class Deployment:
    stack: Stack
    port: int
    instances: list[Instance]
    card_authority: CardAuthority
    state: Path
    # The mailbox the card CARD_ID opens (MSS_CPS_MAPPING).
    card_user: MailUser

    def browser(self, **kwargs: object) -> Browser:
        return Browser("localhost", self.port, self.stack.ca_cert, next(_SOURCES), **kwargs)  # type: ignore[arg-type]

    def audit(self, instance: Instance) -> list[dict[str, object]]:
        if not instance.audit_log.exists():
            return []
        return [json.loads(line) for line in instance.audit_log.read_text().splitlines()]


def _static_root(state: Path) -> Path:
    """The shipped static files, as a release copies them."""
    root = state / "srv"
    shutil.copytree(ROOT / "static", root / "static")
    return root


@contextlib.contextmanager
def deployed(stack: Stack, state: Path, instances: int = 2) -> Iterator[Deployment]:
    card_user = new_user(stack)
    mapping = state / "cps-mapping.txt"
    mapping.write_text(f"# national id, mailbox\n{CARD_ID} {card_user.address}\n")
    env = webmail_env(
        stack,
        MSS_COOKIE_SECURE="true",
        MSS_TRUSTED_PROXIES="127.0.0.1",
        MSS_CPS_ENABLED="true",
        MSS_CPS_MAPPING=str(mapping),
    )
    card_authority = CardAuthority.create(state / "cards")
    started = [start_instance(env, free_port(), state / f"audit-{n}.log") for n in range(instances)]
    try:
        for instance in started:
            wait_until_responds(f"http://127.0.0.1:{instance.port}/healthz")
        port = free_port()
        site = local_site(
            port=port,
            upstreams=[i.port for i in started],
            stack=stack,
            static_root=_static_root(state),
            card_ca=card_authority.cert,
            snippets=state / "snippets",
        )
        with running_nginx(state, site) as error_log:
            try:
                wait_until_responds(
                    f"https://localhost:{port}/healthz",
                    context=ssl.create_default_context(cafile=str(stack.ca_cert)),
                )
            except AssertionError:
                raise AssertionError(error_log.read_text()) from None
            yield Deployment(stack, port, started, card_authority, state, card_user)
    finally:
        for instance in started:
            instance.stop()


@pytest.fixture(scope="module")
def deployment(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed(stack, tmp_path_factory.mktemp("nginx")) as running:
        yield running


# -- the configuration itself --------------------------------------------------------------


def test_nginx_accepts_the_shipped_configuration(deployment: Deployment, tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    site.write_text((deployment.state / "site.conf").read_text())
    config = tmp_path / "nginx.conf"
    config.write_text(main_config(tmp_path, site))
    result = nginx_test(tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    # The test CA's certificate names no OCSP responder: stapling is skipped, and said so.
    assert "ssl_stapling" in result.stderr


def test_the_body_limit_matches_what_the_compose_form_reads() -> None:
    shipped = (ROOT / "nginx/mss-webmail.conf").read_text()
    default_upload = 10 * 1024 * 1024  # MSS_MAX_UPLOAD_BYTES's default
    assert f"client_max_body_size {(3 * default_upload + (1 << 20)) >> 20}m;" in shipped


def test_a_post_is_never_retried_on_another_instance() -> None:
    proxy = (ROOT / "nginx/proxy.conf").read_text()
    directives = [line.split() for line in proxy.splitlines() if not line.startswith("#")]
    retry = next(d for d in directives if d and d[0] == "proxy_next_upstream")
    assert "non_idempotent" not in " ".join(retry)


# -- every answer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/static/app.css", f"/static/{HASHED_CSS}", "/login", "/mail", "/no-such-page"]
)
def test_every_answer_carries_hsts(deployment: Deployment, path: str) -> None:
    answer = deployment.browser().get(path)
    assert answer.header("Strict-Transport-Security").startswith("max-age=63072000")


def test_hashed_static_names_are_cached_for_a_year_others_briefly(deployment: Deployment) -> None:
    browser = deployment.browser()
    hashed = browser.get(f"/static/{HASHED_CSS}")
    assert hashed.status == 200
    assert hashed.header("Cache-Control") == "public, max-age=31536000, immutable"
    assert hashed.header("Content-Type") == "text/css; charset=utf-8"
    assert hashed.header("X-Content-Type-Options") == "nosniff"
    assert hashed.body == STATIC_ASSETS.get("app.css").body  # type: ignore[union-attr]
    plain = browser.get("/static/app.css")
    assert plain.header("Cache-Control") == "public, max-age=300"
    assert plain.header("X-Content-Type-Options") == "nosniff"
    manifest = browser.get("/static/manifest.webmanifest")
    assert manifest.header("Content-Type") == "application/manifest+json"


def test_static_files_and_pages_are_compressed_once(deployment: Deployment) -> None:
    browser = deployment.browser()
    css = browser.get("/static/app.css", Accept_Encoding="gzip")
    assert css.header("Content-Encoding") == "gzip"
    assert gzip.decompress(css.body) == (ROOT / "static/app.css").read_bytes()
    bundle = browser.get(f"/static/{HASHED_CSS}", Accept_Encoding="gzip")
    assert bundle.header("Content-Encoding") == "gzip"
    assert gzip.decompress(bundle.body) == STATIC_ASSETS.get("app.css").body  # type: ignore[union-attr]
    # Pages: compressed by the app (its CSRF token masked in each), passed through by nginx,
    # never compressed twice.
    page = browser.get("/login", Accept_Encoding="gzip")
    assert page.header("Content-Encoding") == "gzip"
    html = gzip.decompress(page.body)
    assert html.lstrip().lower().startswith(b"<!doctype html>")
    assert "Accept-Encoding" in page.header("Vary")
    plain = browser.get("/login")
    assert plain.header("Content-Encoding") == ""


def test_the_apps_security_headers_and_secure_cookies_pass_through(
    deployment: Deployment,
) -> None:
    answer = deployment.browser().get("/login")
    assert "default-src" in answer.header("Content-Security-Policy")
    assert answer.header("Cache-Control") == "no-store"
    cookie = answer.header("Set-Cookie")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie


def test_sign_in_is_rate_limited_per_address(deployment: Deployment) -> None:
    browser = deployment.browser()
    statuses = [browser.get("/login/otp").status for _ in range(90)]
    assert 429 in statuses
    assert statuses[0] != 429
    # Another address is not held back, nor are other pages from this one.
    assert deployment.browser().get("/login").status == 200
    assert browser.get("/static/app.css").status == 200


# -- the client's address ------------------------------------------------------------------


def _failed_login(browser: Browser, address: str, **headers: str) -> None:
    page = browser.get("/login", **headers)
    browser.post(
        "/login",
        {"address": address, "password": "wrong", "login_token": field_value(page, "login_token")},
        **headers,
    )


def _ips_seen(deployment: Deployment, address: str) -> set[object]:
    return {
        entry["ip"]
        for instance in deployment.instances
        for entry in deployment.audit(instance)
        if entry["account"] == address
    }


def test_a_forged_forwarded_for_through_nginx_is_replaced(
    deployment: Deployment, stack: Stack
) -> None:
    user = new_user(stack)
    browser = deployment.browser()
    _failed_login(browser, user.address, X_Forwarded_For="203.0.113.66", Forwarded="for=1.2.3.4")
    assert _ips_seen(deployment, user.address) == {browser.source}


def test_a_direct_client_cannot_choose_its_address(deployment: Deployment, stack: Stack) -> None:
    user = new_user(stack)
    instance = deployment.instances[0]
    direct = Browser("127.0.0.1", instance.port, stack.ca_cert, "127.0.0.3", tls=False)
    _failed_login(direct, user.address, X_Forwarded_For="203.0.113.66")
    assert _ips_seen(deployment, user.address) == {"127.0.0.3"}


# -- the CPS card at the TLS layer ---------------------------------------------------------


def test_a_card_from_another_authority_is_refused_by_nginx(
    deployment: Deployment, stack: Stack, tmp_path: Path
) -> None:
    cert, key = tmp_path / "other.pem", tmp_path / "other.key"
    stack.issue_client_certificate(cert, key, "/O=Autre/CN=810001234567")
    answer = deployment.browser(card=(cert, key)).get("/login")
    assert answer.status == 400


def test_a_card_from_the_configured_authority_is_accepted(
    deployment: Deployment, tmp_path: Path
) -> None:
    card = deployment.card_authority.issue_card(tmp_path, "/C=FR/O=Test/CN=810001234567")
    assert deployment.browser(card=card).get("/login").status == 200


# -- two instances -------------------------------------------------------------------------

OTP: dict[str, str] = {}


def sign_in(browser: Browser, user: MailUser) -> None:
    """Password, then the second factor (enrolment the first time), through nginx."""
    page = browser.get("/login")
    sent = browser.post(
        "/login",
        {
            "address": user.address,
            "password": user.password,
            "login_token": field_value(page, "login_token"),
        },
    )
    assert sent.status == 303, sent.text
    second = browser.get("/login/otp")
    secret = second.soup().select_one("#secret")
    assert secret is not None, "a new user enrols"
    OTP[user.address] = "".join(secret.get_text().split())
    done = browser.post(
        "/login/otp",
        {
            "csrf_token": field_value(second, "csrf_token"),
            "code": pyotp.TOTP(OTP[user.address]).now(),
        },
    )
    assert done.status == 200, done.text
    assert done.soup().select("li code, .recovery-codes code, code"), "recovery codes shown"


def _served_by(deployment: Deployment, address: str, action: str) -> list[int]:
    """The instances whose audit trail shows ``action`` for ``address``."""
    return [
        n
        for n, instance in enumerate(deployment.instances)
        if any(
            e["account"] == address and e["action"] == action for e in deployment.audit(instance)
        )
    ]


def test_a_signed_in_user_reads_through_nginx_on_one_instance(
    deployment: Deployment, stack: Stack
) -> None:
    user = new_user(stack)
    mail = simple_mail("secretariat@chu.mssante.test", user.address, "Compte rendu de consultation")
    deliver(stack, user, mail)
    wait_for_messages(stack, user)
    browser = deployment.browser()
    sign_in(browser, user)
    listing = browser.get("/mail")
    assert listing.status == 200
    assert "Compte rendu de consultation" in listing.soup().get_text()
    link = next(
        a["href"]
        for a in listing.soup().select("a[href]")
        if str(a["href"]).startswith("/mail/message")
    )
    for _ in range(2):
        shown = browser.get(str(link))
        assert shown.status == 200
        assert "Compte rendu de consultation" in shown.soup().get_text()
    # Both readings on one instance: the session's requests stay where its IMAP login is
    # (affinity); how they move to the other when it dies: test_nginx_affinity.py.
    assert len(_served_by(deployment, user.address, "message_read")) == 1


def test_an_instance_killed_in_use_leaves_the_next_requests_to_the_other(
    stack: Stack, tmp_path: Path
) -> None:
    with deployed(stack, tmp_path) as fresh:
        user = new_user(stack)
        browser = fresh.browser()
        sign_in(browser, user)
        fresh.instances[0].kill()
        started = time.monotonic()
        for _ in range(4):
            assert browser.get("/mail").status == 200
        assert time.monotonic() - started < 10


# -- CPS card sign-in ----------------------------------------------------------------------


def _card(deployment: Deployment, tmp_path: Path, national_id: str = CARD_ID) -> tuple[Path, Path]:
    return deployment.card_authority.issue_card(
        tmp_path, f"/C=FR/O=Test/CN={national_id}/GN=Claire/SN=MARTIN"
    )


def _escaped(cert: Path) -> str:
    return urllib.parse.quote(cert.read_text())


def _card_sign_in(browser: Browser, password: str, **headers: str) -> Answer:
    page = browser.get("/login/cps", **headers)
    assert page.status == 200, page.text
    return browser.post(
        "/login/cps",
        {
            "address": field_value(page, "address"),
            "password": password,
            "login_token": field_value(page, "login_token"),
        },
        **headers,
    )


def test_a_card_signs_in_with_the_password_and_no_second_factor(
    deployment: Deployment, tmp_path: Path
) -> None:
    browser = deployment.browser(card=_card(deployment, tmp_path))
    login = browser.get("/login")
    assert login.soup().select_one("a#cps-login")["href"] == "/login/cps"
    page = browser.get("/login/cps")
    assert page.soup().select_one("#cps-holder").get_text(strip=True) == "Carte de Claire MARTIN"
    assert page.soup().select_one("#cps-mailbox").get_text() == deployment.card_user.address
    done = _card_sign_in(browser, deployment.card_user.password)
    assert done.status == 303
    assert done.header("Location") == "/mail"
    assert browser.get("/mail").status == 200
    logins = [
        entry
        for instance in deployment.instances
        for entry in deployment.audit(instance)
        if entry["action"] == "login" and entry["account"] == deployment.card_user.address
    ]
    assert [e["target"]["method"] for e in logins] == ["cps"]  # type: ignore[index]
    assert logins[0]["target"]["national_id"] == CARD_ID  # type: ignore[index]


def test_a_wrong_password_with_the_card_opens_nothing(
    deployment: Deployment, tmp_path: Path
) -> None:
    browser = deployment.browser(card=_card(deployment, tmp_path))
    refused = _card_sign_in(browser, "not-the-password")
    assert refused.status == 401
    assert refused.soup().select_one("#cps-login .alert-error").get_text(strip=True) == (
        "Adresse ou mot de passe incorrect."
    )
    assert browser.get("/mail").status in (302, 303, 401)


def test_a_card_mapped_to_no_mailbox_is_told_so(deployment: Deployment, tmp_path: Path) -> None:
    browser = deployment.browser(card=_card(deployment, tmp_path, "810009999999"))
    answer = browser.get("/login/cps")
    assert answer.status == 403
    assert "aucune messagerie" in answer.soup().select_one(".alert-error").get_text()


def test_the_form_cannot_name_another_mailbox(
    deployment: Deployment, tmp_path: Path, stack: Stack
) -> None:
    other = new_user(stack)
    browser = deployment.browser(card=_card(deployment, tmp_path))
    page = browser.get("/login/cps")
    answer = browser.post(
        "/login/cps",
        {
            "address": other.address,
            "password": other.password,
            "login_token": field_value(page, "login_token"),
        },
    )
    assert answer.status == 403
    assert browser.get("/mail").status != 200


def test_without_a_card_the_login_page_is_the_usual_one(deployment: Deployment) -> None:
    browser = deployment.browser()
    assert browser.get("/login").soup().select_one("#cps-login") is None
    assert browser.get("/login/cps").status == 401


def test_a_forged_card_header_through_nginx_is_overwritten(
    deployment: Deployment, tmp_path: Path
) -> None:
    """A real, valid card certificate, sent as a header: nginx drops it."""
    forged = _escaped(_card(deployment, tmp_path)[0])
    browser = deployment.browser()
    assert browser.get("/login/cps", X_SSL_Client_Cert=forged).status == 401
    # With a card of its own, the header names the card presented, not the forged one.
    own = deployment.browser(card=_card(deployment, tmp_path, "810009999999"))
    assert own.get("/login/cps", X_SSL_Client_Cert=forged).status == 403


def test_a_forged_card_header_from_a_direct_client_is_ignored(
    deployment: Deployment, tmp_path: Path
) -> None:
    forged = _escaped(_card(deployment, tmp_path)[0])
    instance = deployment.instances[0]
    direct = Browser("127.0.0.1", instance.port, deployment.stack.ca_cert, "127.0.0.3", tls=False)
    assert direct.get("/login/cps", X_SSL_Client_Cert=forged).status == 401


def _reads(deployment: Deployment, address: str) -> list[int]:
    return [
        sum(
            1
            for e in deployment.audit(instance)
            if e["account"] == address and e["action"] == "message_read"
        )
        for instance in deployment.instances
    ]


def _inbox_count(stack: Stack, user: MailUser) -> int:
    imap = imap_for(stack, user)
    try:
        _typ, data = imap.select("INBOX", readonly=True)
        return int(data[0])
    finally:
        imap.logout()


def test_a_send_in_flight_when_its_instance_dies_is_not_replayed(
    stack: Stack, tmp_path: Path
) -> None:
    with deployed(stack, tmp_path) as fresh:
        user, colleague = new_user(stack), new_user(stack)
        deliver(stack, user, simple_mail("a@chu.mssante.test", user.address, "Bilan"))
        wait_for_messages(stack, user)
        browser = fresh.browser()
        sign_in(browser, user)
        form = browser.get("/compose")
        fields = {
            "csrf_token": field_value(form, "csrf_token"),
            "message_id": field_value(form, "message_id"),
            "mode": "new",
            "action": "send",
            "to": colleague.address,
            "subject": "Résultats de biologie",
            "body": "Chère consœur, voici les résultats.",
        }
        listing = browser.get("/mail")
        link = next(
            str(a["href"])
            for a in listing.soup().select("a[href]")
            if str(a["href"]).startswith("/mail/message")
        )
        before = _reads(fresh, user.address)
        browser.get(link)
        served = [
            n
            for n, (a, b) in enumerate(zip(before, _reads(fresh, user.address), strict=True))
            if b > a
        ]
        assert len(served) == 1
        # Affinity: the next request goes to the same instance. It hangs, then dies.
        doomed = fresh.instances[served[0]]
        doomed.process.send_signal(signal.SIGSTOP)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            sending = pool.submit(browser.post, "/compose", fields)
            time.sleep(2)
            doomed.kill()
            answer = sending.result(timeout=30)
        assert answer.status == 502
        assert answer.soup().select_one("#upstream-error h1").get_text() == (
            "Messagerie momentanément indisponible"
        )
        time.sleep(2)
        assert _inbox_count(stack, colleague) == 0  # nginx did not give it to the survivor
        # The user sends the same form again: the survivor sends it, once.
        again = browser.post("/compose", fields)
        assert again.status == 303, again.text
        wait_for_messages(stack, colleague)
        time.sleep(1)
        assert _inbox_count(stack, colleague) == 1


# -- TLS profile and long requests ---------------------------------------------------------


def _handshake(deployment: Deployment, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("localhost", deployment.port), timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost")


def test_http2_is_offered_over_tls_1_3_and_1_2(deployment: Deployment) -> None:
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        context = ssl.create_default_context(cafile=str(deployment.stack.ca_cert))
        context.minimum_version = context.maximum_version = version
        context.set_alpn_protocols(["h2", "http/1.1"])
        with _handshake(deployment, context) as tls:
            assert tls.version() == version.name.replace("_", ".")
            assert tls.selected_alpn_protocol() == "h2"


def test_tls_1_1_and_weak_suites_are_refused(deployment: Deployment) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(deployment.stack.ca_cert))
    with warnings.catch_warnings():  # Python deprecates TLS 1.1 too: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        _handshake(deployment, old)
    weak = ssl.create_default_context(cafile=str(deployment.stack.ca_cert))
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("AES128-SHA:AES256-SHA")  # no forward secrecy, no AEAD
    with pytest.raises(ssl.SSLError):
        _handshake(deployment, weak)


def _location(block: str) -> dict[str, str]:
    """The directives of ``location <block> {...}`` in the shipped site."""
    site = (ROOT / "nginx/mss-webmail.conf").read_text()
    body = site.split(f"location {block} {{", 1)[1].split("}", 1)[0]
    lines = [line.split("#")[0].strip().rstrip(";") for line in body.splitlines()]
    return dict(line.split(None, 1) for line in lines if " " in line)


def _seconds(value: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(value[:-1]) * units[value[-1]] if value[-1] in units else int(value)


def test_nginx_waits_longer_for_a_send_than_the_app_waits_for_smtp(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "MSS_IMAP_HOST": "i.example",
            "MSS_SMTP_HOST": "s.example",
            "MSS_SECRET_KEY": "k" * 40,
            "MSS_DATA_DIR": str(tmp_path),
        }
    )
    timeouts = settings.smtp_timeouts
    # Connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA: commands; then the final dot.
    app_waits = 7 * timeouts.command + timeouts.data_end
    assert _seconds(_location("= /compose")["proxy_read_timeout"]) > app_waits


def test_live_updates_are_neither_buffered_nor_cut() -> None:
    events = _location("= /mail/events")
    assert events["proxy_buffering"] == "off"
    assert _seconds(events["proxy_read_timeout"]) >= 3600
