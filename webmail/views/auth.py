"""Login with the mailbox address and its IMAP password; logout; language choice.

The password step is the first factor. The session created here is the one a second factor
(TOTP, Pro Santé Connect) will have to upgrade.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from functools import partial

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.auth import psc_tokens
from webmail.auth.cps import CERT_HEADER
from webmail.auth.oidc import PscUnavailable
from webmail.auth.sessions import Session, SessionCookie
from webmail.auth.throttle import Lock
from webmail.failures import TOO_MANY_CONNECTIONS
from webmail.formatting import PARIS
from webmail.i18n import LANGUAGES, N_
from webmail.mail.imap import ImapAuthFailed, ImapConnectionLimit, ImapUnavailable
from webmail.mail.sasl import TOKEN_REFUSED
from webmail.security import csrf
from webmail.templating import render
from webmail.urls import local_path
from webmail.views.common import (
    LANGUAGE_COOKIE,
    client_ip,
    forget_session_cookie,
    read_form,
    services,
    session_cookie_name,
    text_field,
)
from webmail.views.session_end import end_sessions

log = logging.getLogger(__name__)

LOGIN_COOKIE = "mss_login"
_ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


async def login_form(request: Request) -> Response:
    return _login_page(request)


def _login_page(
    request: Request, *, address: str = "", error: str | None = None, status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "pages/login.html",
        {
            "address": address,
            "error": error,
            "login_token": token,
            "notice": _notice(request.query_params.get("notice")),
            "psc_enabled": services(request).psc is not None,
            # A card nginx verified (the header only survives from a trusted proxy).
            "cps_card": services(request).settings.cps is not None
            and CERT_HEADER in request.headers,
        },
        status_code=status,
    )
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600, path="/login")
    return response


def _notice(key: str | None) -> str | None:
    return {
        "expired": N_("Votre session a expiré. Reconnectez-vous."),
        "logout": N_("Vous êtes déconnecté."),
        "psc_refused": TOKEN_REFUSED,
    }.get(key or "")


async def login(request: Request) -> Response:
    form = await read_form(request)
    address = text_field(form, "address", limit=320).strip()
    password = text_field(form, "password", limit=1024)
    token = text_field(form, "login_token", limit=100)
    if not csrf.same_origin(request) or not csrf.tokens_match(
        token, request.cookies.get(LOGIN_COOKIE, "")
    ):
        return _login_page(
            request,
            address=address,
            status=403,
            error=N_("Le formulaire a expiré. Saisissez de nouveau votre mot de passe."),
        )
    if not _ADDRESS.match(address) or not password:
        return _login_page(
            request,
            address=address,
            status=400,
            error=N_("Saisissez votre adresse de messagerie et votre mot de passe."),
        )
    refused = await password_refused(request, address, password)
    if refused is not None:
        return refused
    app = services(request)
    ip = client_ip(request)
    # First factor done: a short-lived session that opens nothing until the second factor.
    cookie, session = await app.sessions.create(
        address,
        password,
        client_ip=ip,
        user_agent=request.headers.get("user-agent", ""),
        stage="password",
    )
    app.audit.record("login_password", account=address, client_ip=ip, session=session.id_hash)
    response = RedirectResponse("/login/otp", status_code=303)
    set_cookie(request, response, session_cookie_name(request), cookie.encode(), max_age=None)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


async def password_refused(
    request: Request,
    address: str,
    password: str,
    page: Callable[[str, int], Response] | None = None,
) -> Response | None:
    """Try ``password`` on the IMAP server, through the password throttle: ``page(error,
    status)`` (by default the login form) saying why when it fails, None when it is accepted."""
    if page is None:
        page = partial(_error_page, request, address)
    app = services(request)
    ip = client_ip(request)
    # Counted before it is tried: a burst of simultaneous guesses cannot all pass the lock.
    lock = await app.password_throttle.begin(address, ip)
    if lock is not None:
        return page(locked_message(lock), 429)
    try:
        imap = await app.pool.open(address, password, ip or None)
    except ImapAuthFailed:
        app.audit.record("login", account=address, client_ip=ip, result="refused")
        lock = await app.password_throttle.begun_failed(address, ip)
        if lock is not None:
            app.audit.record(
                "login_locked",
                account=address,
                client_ip=ip,
                result="locked",
                seconds=lock.seconds_left,
            )
            return page(locked_message(lock), 429)
        # Same answer whether the mailbox exists or not.
        return page(N_("Adresse ou mot de passe incorrect."), 401)
    except ImapConnectionLimit:
        # The password was right: neither a failure to count nor "incorrect" to show.
        await app.password_throttle.abandoned(address, ip)
        app.audit.record("login", account=address, client_ip=ip, result="connection_limit")
        return page(TOO_MANY_CONNECTIONS, 503)
    except ImapUnavailable as error:
        await app.password_throttle.abandoned(address, ip)
        log.warning("login: IMAP server unreachable: %s", error)
        return page(
            N_("Le serveur de messagerie est injoignable. Réessayez dans quelques minutes."), 503
        )
    except BaseException:
        await app.password_throttle.abandoned(address, ip)
        raise
    await app.password_throttle.succeeded(address, ip, begun=True)
    # A password-only session holds no IMAP connection: a crowd of them must not use up the
    # account's connection limit on the server. The full session opens its own.
    await imap.logout()
    return None


def _error_page(request: Request, address: str, error: str, status: int) -> Response:
    return _login_page(request, address=address, status=status, error=error)


def locked_message(lock: Lock, *, account_wide: bool = False) -> str:
    """What to tell the user while ``lock`` holds; ``account_wide``: the lock of the account's
    code budget, which a recovery code still gets past."""
    ends = datetime.fromtimestamp(lock.until, PARIS)
    # A lock of the account's monthly budget ends days later: then the date says when.
    same_day = ends.date() == datetime.now(PARIS).date()
    until = ends.strftime("%H:%M:%S" if same_day else "%d/%m/%Y %H:%M")
    if account_wide:
        return i18n._(
            "Trop de codes incorrects pour ce compte. Réessayez après {time} (dans {seconds} s), "
            "ou saisissez l'un de vos codes de secours."
        ).format(time=until, seconds=lock.seconds_left)
    return i18n._(
        "Trop de tentatives infructueuses. Réessayez après {time} (dans {seconds} s)."
    ).format(time=until, seconds=lock.seconds_left)


def login_again(request: Request, address: str, error: str, status: int) -> Response:
    """The login form, for a password-only session that the second factor has ended."""
    response = _login_page(request, address=address, status=status, error=error)
    forget_session_cookie(request, response)
    return response


async def logout(request: Request) -> Response:
    app = services(request)
    cookie = SessionCookie.decode(request.cookies.get(session_cookie_name(request)))
    session = await app.sessions.load(cookie)
    provider_logout = None
    if cookie is not None and session is not None:
        form = await read_form(request)
        if not csrf.same_origin(request) or not csrf.tokens_match(
            str(form.get(csrf.TOKEN_FIELD, "")) or request.headers.get(csrf.TOKEN_HEADER, ""),
            session.csrf_token,
        ):
            return RedirectResponse("/mail", status_code=303)
        provider_logout = await _psc_logout_url(request, session, cookie)
        await end_sessions(
            app,
            session.user,
            [session.id_hash],
            "logout",
            client_ip=client_ip(request),
            session=session.id_hash,
        )
    response: Response
    if provider_logout is None:
        response = RedirectResponse("/login?notice=logout", status_code=303)
    else:
        response = render(request, "pages/psc_logout.html", {"provider_logout": provider_logout})
    forget_session_cookie(request, response)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


async def _psc_logout_url(request: Request, session: Session, cookie: SessionCookie) -> str | None:
    """For a Pro Santé Connect session, the provider's logout, so that the PSC session ends
    as well (a shared consulting-room computer must not stay signed in there)."""
    client = services(request).psc
    if session.method != "psc" or client is None:
        return None
    tokens = psc_tokens.unseal(services(request).sessions, session, cookie)
    if tokens is None:
        return None
    try:
        return await client.end_session_url(tokens.id_token)
    except PscUnavailable:
        log.warning("logout: Pro Santé Connect unreachable, local logout only")
        return None


async def choose_language(request: Request) -> Response:
    language = request.query_params.get("set", "")
    target = local_path(request.query_params.get("next"), "/login")
    response = RedirectResponse(target, status_code=303)
    if language in LANGUAGES:
        set_cookie(request, response, LANGUAGE_COOKIE, language, max_age=365 * 86400)
    return response


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int | None,
    path: str = "/",
) -> None:
    settings = services(request).settings
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )
