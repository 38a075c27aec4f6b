"""Sign-in with Pro Santé Connect (CPS card or e-CPS app): to the provider and back.

No second factor follows: PSC's eidas1 level is already a strong authentication. The
mailbox is opened with the access token (XOAUTH2), so the operator's server decides.
"""

from __future__ import annotations

import logging
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.auth import psc_tokens
from webmail.auth.networks import client_network
from webmail.auth.oidc import (
    Identity,
    PscClient,
    PscClientRefused,
    PscRefused,
    PscTooManyStarts,
    PscUnavailable,
    SignIn,
)
from webmail.auth.sessions import SessionCookie
from webmail.errors import NotFound
from webmail.failures import TOO_MANY_CONNECTIONS
from webmail.htmx import client_redirect, is_htmx
from webmail.i18n import N_
from webmail.mail.imap import ImapAuthFailed, ImapConnectionLimit, ImapUnavailable
from webmail.mail.sasl import TOKEN_REFUSED, AccessToken
from webmail.views.auth import login_again, set_cookie
from webmail.views.common import (
    client_ip,
    forget_session_cookie,
    services,
    session_cookie_name,
)
from webmail.views.professions import PROFESSIONS, profession_label
from webmail.views.session_end import end_sessions

# PROFESSIONS: still importable from here, where it used to live.
__all__ = [
    "PROFESSIONS",
    "callback",
    "display_name",
    "end_refused_session",
    "logged_out",
    "mail_access_refused",
    "start",
]

log = logging.getLogger(__name__)

# The pre-login browser's id, to which state, nonce and PKCE verifier are bound in Redis.
PRE_LOGIN_COOKIE = "mss_psc"
PRE_LOGIN_PATH = "/login/psc"
PRE_LOGIN_SECONDS = 600

UNAVAILABLE = N_(
    "Pro Santé Connect ne répond pas. Réessayez dans quelques minutes, ou connectez-vous avec "
    "votre mot de passe."
)
NOT_VERIFIED = N_(
    "La connexion par Pro Santé Connect n'a pas pu être vérifiée. Recommencez la connexion."
)
CANCELLED = N_("La connexion par Pro Santé Connect a été annulée ou refusée.")
TOO_MANY_STARTS = N_(
    "Trop de connexions par Pro Santé Connect ont été commencées depuis ce réseau. "
    "Réessayez dans quelques minutes."
)
MAILBOX_REFUSED = N_(
    "Le serveur de messagerie a refusé votre identification Pro Santé Connect. Vérifiez "
    "auprès de votre opérateur que cette messagerie est ouverte à Pro Santé Connect."
)
CLIENT_REFUSED = N_(
    "Pro Santé Connect ne reconnaît pas ce webmail : la connexion par Pro Santé Connect est "
    "impossible pour l'instant. Prévenez votre administrateur, ou connectez-vous avec votre "
    "mot de passe."
)
LOGOUT_UNCONFIRMED = N_(
    "Vous êtes déconnecté de la messagerie, mais la fin de votre session Pro Santé Connect "
    "n'a pas pu être confirmée. Si cet ordinateur est partagé, fermez le navigateur."
)
IMAP_UNREACHABLE = N_("Le serveur de messagerie est injoignable. Réessayez dans quelques minutes.")


def _client(request: Request) -> PscClient:
    client = services(request).psc
    if client is None:
        raise NotFound("Cette page n'existe pas.")
    return client


async def start(request: Request) -> Response:
    """Remember a new state for this browser, then send it to the provider."""
    client = _client(request)
    binding = secrets.token_urlsafe(32)
    network = client_network(
        client_ip(request), services(request).settings.login_limits.ipv6_prefix
    )
    try:
        url = await client.begin(binding, network)
    except PscTooManyStarts:
        services(request).audit.record(
            "psc_login", account="", client_ip=client_ip(request), result="locked"
        )
        return login_again(request, "", TOO_MANY_STARTS, 429)
    except PscUnavailable as error:
        log.warning("Pro Santé Connect unreachable: %s", error)
        return login_again(request, "", UNAVAILABLE, 503)
    response = RedirectResponse(url, status_code=303)
    set_cookie(
        request, response, PRE_LOGIN_COOKIE, binding, max_age=PRE_LOGIN_SECONDS, path=PRE_LOGIN_PATH
    )
    return response


async def callback(request: Request) -> Response:
    """The provider's answer: check it all, open the mailbox with the token, start a session."""
    client = _client(request)
    app = services(request)
    ip = client_ip(request)
    query = request.query_params
    if "error" in query:
        reason = "provider_" + "".join(c for c in query["error"][:40] if c.isalnum() or c == "_")
        app.audit.record("psc_login", account="", client_ip=ip, result="refused", reason=reason)
        return _refused(request, CANCELLED, 401)
    binding = request.cookies.get(PRE_LOGIN_COOKIE, "")
    try:
        signed_in = await client.finish(binding, query.get("state", ""), query.get("code", ""))
    except PscRefused as refused:
        app.audit.record(
            "psc_login", account="", client_ip=ip, result="refused", reason=refused.reason
        )
        status = 400 if refused.reason.startswith(("state_", "code_")) else 401
        return _refused(request, NOT_VERIFIED, status)
    except PscClientRefused as refused:
        # The webmail's own credentials (secret, or client certificate with mutual TLS).
        log.warning("Pro Santé Connect refused this webmail's credentials: %s", refused.reason)
        app.audit.record(
            "psc_login", account="", client_ip=ip, result="refused", reason=refused.reason
        )
        return _refused(request, CLIENT_REFUSED, 503)
    except PscUnavailable as error:
        log.warning("Pro Santé Connect unreachable: %s", error)
        return _refused(request, UNAVAILABLE, 503)
    return await open_session(request, signed_in)


async def open_session(request: Request, signed_in: SignIn, **audit: str) -> Response:
    """After a checked sign-in: open the mailbox with the token once, then start the
    session and send the browser to its inbox; ``audit``: more details for the login line."""
    app = services(request)
    ip = client_ip(request)
    identity, tokens = signed_in.identity, signed_in.tokens
    refusal = await _check_mailbox(request, identity, AccessToken(tokens.access_token))
    if refusal is not None:
        return refusal
    cookie, session = app.sessions.prepare(
        identity.mailbox, "", client_ip=ip, user_agent=request.headers.get("user-agent", "")
    )
    session.method = "psc"
    session.display_name = display_name(identity)
    session.profession = profession_label(identity)
    psc_tokens.seal(app.sessions, session, cookie, tokens)
    # One write, complete: no request can see the session without its tokens.
    await app.sessions.add(session)
    app.audit.record(
        "login",
        account=identity.mailbox,
        client_ip=ip,
        session=session.id_hash,
        method="psc",
        national_id=identity.national_id,
        **audit,
    )
    response = RedirectResponse("/mail", status_code=303)
    set_cookie(request, response, session_cookie_name(request), cookie.encode(), max_age=None)
    response.delete_cookie(PRE_LOGIN_COOKIE, path=PRE_LOGIN_PATH)
    return response


async def logged_out(request: Request) -> Response:
    """The provider's answer after its logout: "vous êtes déconnecté" only for the state of
    a logout this webmail started, once (the mail session itself ended before)."""
    client = _client(request)
    state = request.query_params.get("state", "")
    try:
        confirmed = await client.logout_returned(state)
    except PscUnavailable as error:
        log.warning("Pro Santé Connect logout state unreadable: %s", error)
        confirmed = False
    if confirmed:
        return RedirectResponse("/login?notice=logout", status_code=303)
    services(request).audit.record(
        "psc_logout", account="", client_ip=client_ip(request), result="refused",
        reason="state_unknown" if state else "state_missing",
    )  # fmt: skip
    return login_again(request, "", LOGOUT_UNCONFIRMED, 400)


async def _check_mailbox(
    request: Request, identity: Identity, token: AccessToken
) -> Response | None:
    """Log in to IMAP with the token once: the operator's server is the judge of who opens
    which mailbox. None when it accepts."""
    app = services(request)
    ip = client_ip(request)
    try:
        imap = await app.pool.open(identity.mailbox, token, ip or None)
    except ImapAuthFailed:
        app.audit.record(
            "psc_login",
            account=identity.mailbox,
            client_ip=ip,
            result="refused",
            reason="imap_refused_token",
            national_id=identity.national_id,
        )
        return _refused(request, MAILBOX_REFUSED, 401)
    except ImapConnectionLimit:
        return _refused(request, TOO_MANY_CONNECTIONS, 503)
    except ImapUnavailable as error:
        log.warning("PSC sign-in: IMAP server unreachable: %s", error)
        return _refused(request, IMAP_UNREACHABLE, 503)
    # Like the password step: the session opens its own connection when it needs one.
    await imap.logout()
    return None


async def mail_access_refused(request: Request) -> Response:
    """The mail server refused the session's access token although the provider had given
    it (revoked there, or no longer accepted for this mailbox): the session ends, and the
    login page says why, beside the button that signs in with Pro Santé Connect again."""
    await end_refused_session(request)
    if is_htmx(request):
        response = client_redirect("/login?notice=psc_refused", status=401)
        forget_session_cookie(request, response)
        return response
    return login_again(request, "", TOKEN_REFUSED, 401)


async def end_refused_session(request: Request) -> None:
    """End the request's session after the mail server refused its token, with an audit
    line: the session cannot open the mailbox any more."""
    app = services(request)
    cookie = SessionCookie.decode(request.cookies.get(session_cookie_name(request)))
    session = await app.sessions.load(cookie)
    if session is None:
        return
    await end_sessions(
        app,
        session.user,
        [session.id_hash],
        "psc_mail_refused",
        client_ip=client_ip(request),
        session=session.id_hash,
        result="refused",
    )


def display_name(identity: Identity) -> str:
    return " ".join(part for part in (identity.given_name, identity.family_name) if part)


def _refused(request: Request, message: str, status: int) -> Response:
    response = login_again(request, "", message, status)
    response.delete_cookie(PRE_LOGIN_COOKIE, path=PRE_LOGIN_PATH)
    return response
