"""What every view needs: the app's services, the session, and guarded form reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from webmail.auth import psc_tokens
from webmail.auth.budget import SecondFactorBudget
from webmail.auth.oidc import PscClient, PscRefused, PscUnavailable
from webmail.auth.registry import EnrolmentRegistry
from webmail.auth.sessions import Session, SessionCookie, SessionStore
from webmail.auth.throttle import Throttle
from webmail.auth.totp import SecondFactorStore
from webmail.directory.index import DirectoryIndex
from webmail.directory.recent import RecentCorrespondents
from webmail.errors import BadRequest, Forbidden, ServiceUnavailable, WebmailError
from webmail.i18n import N_
from webmail.mail.broadcast import SessionEnds
from webmail.mail.connections import ConnectionPool
from webmail.mail.sasl import AccessToken
from webmail.security import csrf
from webmail.security.audit import AuditLog
from webmail.settings import Settings
from webmail.trust.source import WhitelistSource
from webmail.views.session_end import end_sessions, forget_locally

SESSION_COOKIE = "mss_session"
# Over TLS the cookie gets the __Host- prefix: the browser then refuses it unless Secure,
# set by this host itself and for the whole site, so no sibling domain can plant one.
SECURE_SESSION_COOKIE = "__Host-mss_session"
LANGUAGE_COOKIE = "mss_lang"
# Sent by the page's own background requests (the live inbox's new rows): they are not the
# user's activity and must not keep an unattended session open. Trusted as sent: leaving it
# out only keeps the session alive, as any request does.
BACKGROUND_HEADER = "X-MSS-Background"


class TokenRefused(Forbidden):
    """The form's CSRF token is missing or not the session's."""


class LoginRequired(WebmailError):
    status = 401
    title = N_("Session expirée")


@dataclass
class Services:
    settings: Settings
    sessions: SessionStore
    pool: ConnectionPool
    audit: AuditLog
    second_factor: SecondFactorStore
    enrolled: EnrolmentRegistry
    password_throttle: Throttle
    otp_throttle: Throttle
    otp_budget: SecondFactorBudget
    # Pro Santé Connect sign-in, when enabled.
    psc: PscClient | None = None
    # The trust space's whitelist, when one is configured (MSS_TRUST_WHITELIST).
    trust: WhitelistSource | None = None
    # The national directory's index, when configured (it may not be imported yet).
    directory: DirectoryIndex | None = None
    recent: RecentCorrespondents = field(default_factory=RecentCorrespondents)
    # Ended sessions told to every process (None: this process alone, as in some tests).
    broadcast: SessionEnds | None = None


@dataclass
class Authenticated:
    session: Session
    cookie: SessionCookie
    # The IMAP password, or for a Pro Santé Connect session its fresh access token.
    password: str

    @property
    def user(self) -> str:
        return self.session.user

    @property
    def key(self) -> str:
        return self.session.id_hash


def services(request: Request) -> Services:
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


async def authenticated(
    request: Request, *, complete: bool = True, activity: bool = True
) -> Authenticated:
    """The request's live session, or LoginRequired (rendered as a redirect to the login).

    Only a session that passed both factors opens the mailbox; the second-factor pages ask
    for one that passed the password alone (``complete=False``). ``activity`` False: the
    page's own doing (the live inbox), which leaves the session's idle clock as it was.
    """
    store = services(request).sessions
    cookie = SessionCookie.decode(request.cookies.get(session_cookie_name(request)))
    touch = activity and request.headers.get(BACKGROUND_HEADER) != "1"
    session = await store.load(cookie, touch=touch)
    if session is None and cookie is not None:
        # Gone meanwhile: what this process still holds for it closes at this first sight.
        await forget_locally(services(request), cookie.id_hash)
    if session is None or cookie is None or session.complete != complete:
        raise LoginRequired("Votre session a expiré. Reconnectez-vous.")
    password = store.password(session, cookie)
    if password is None:
        await store.delete(cookie)
        await forget_locally(services(request), cookie.id_hash)
        raise LoginRequired("Votre session a expiré. Reconnectez-vous.")
    if session.method == "psc":
        password = await _psc_access_token(request, session, cookie)
    services(request).pool.choose(session.id_hash, session.mailbox)
    request.state.user = session.user
    request.state.identity = session.display_name
    request.state.profession = session.profession
    request.state.csrf_token = session.csrf_token
    request.state.idle_seconds = store.idle_seconds if session.complete else 0
    return Authenticated(session=session, cookie=cookie, password=password)


async def _psc_access_token(
    request: Request, session: Session, cookie: SessionCookie
) -> AccessToken:
    """The session's access token, refreshed if about to expire; the session ends when
    the provider no longer accepts its refresh token."""
    app = services(request)
    try:
        if app.psc is None:  # Pro Santé Connect was turned off since the sign-in
            raise PscRefused("psc_disabled")
        tokens = await psc_tokens.fresh(app.psc, app.sessions, session, cookie)
    except PscRefused as refused:
        await end_sessions(
            app,
            session.user,
            [session.id_hash],
            "psc_refresh",
            client_ip=client_ip(request),
            session=session.id_hash,
            result="refused",
            reason=refused.reason,
        )
        raise LoginRequired(
            "Votre session Pro Santé Connect a pris fin. Reconnectez-vous."
        ) from None
    except PscUnavailable as error:
        raise ServiceUnavailable(
            "Pro Santé Connect ne répond pas : la messagerie ne peut pas être ouverte. "
            "Réessayez dans quelques minutes."
        ) from error
    return AccessToken(tokens.access_token)


def session_cookie_name(request: Request) -> str:
    return SECURE_SESSION_COOKIE if services(request).settings.cookie_secure else SESSION_COOKIE


def forget_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        session_cookie_name(request),
        path="/",
        httponly=True,
        secure=services(request).settings.cookie_secure,
        samesite="lax",
    )


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def audit(
    request: Request, action: str, auth: Authenticated, result: str = "ok", **target: Any
) -> None:
    if auth.session.mailbox:
        # Working in an organisational mailbox: every line says which one.
        target.setdefault("mailbox", auth.session.mailbox)
    services(request).audit.record(
        action,
        account=auth.user,
        client_ip=client_ip(request),
        session=auth.key,
        result=result,
        **target,
    )


FORM_LIMITS = {"max_files": 20, "max_fields": 60, "max_part_size": 2 * 1024 * 1024}


async def read_form(request: Request) -> FormData:
    try:
        return await request.form(**FORM_LIMITS)
    except Exception as error:  # multipart errors come in several types
        raise BadRequest("Le formulaire envoyé est illisible ou trop volumineux.") from error


def compose_body_fits(request: Request) -> bool:
    """Whether a compose form's declared size allows reading it: the attachments' limit,
    base64's third more, and room for the text. No declared size, no reading."""
    limit = 3 * services(request).settings.max_upload_bytes + (1 << 20)
    declared = request.headers.get("content-length", "")
    return is_ascii_number(declared, 12) and int(declared) <= limit


async def state_change(
    request: Request, *, complete: bool = True
) -> tuple[Authenticated, FormData]:
    """For every POST: a live session, the same origin, and the session's CSRF token."""
    auth = await authenticated(request, complete=complete)
    if not csrf.same_origin(request):
        raise Forbidden("Requête refusée : elle ne vient pas de cette application.")
    form = await read_form(request)
    submitted = request.headers.get(csrf.TOKEN_HEADER) or str(form.get(csrf.TOKEN_FIELD, ""))
    if not csrf.tokens_match(submitted, auth.session.csrf_token):
        raise TokenRefused("Le formulaire a expiré. Rechargez la page et recommencez.")
    return auth, form


def text_field(form: FormData | Any, name: str, default: str = "", limit: int = 1_000_000) -> str:
    value = form.get(name, default)
    if not isinstance(value, str):
        return default
    return value[:limit]


def is_ascii_number(value: str, max_digits: int) -> bool:
    """Only 0-9: ``str.isdigit`` also accepts "²" or full-width digits, which ``int`` refuses."""
    return 0 < len(value) <= max_digits and value.isascii() and value.isdigit()


def uid_param(value: str | None) -> int:
    # RFC 3501: a UID is a non-zero 32-bit number.
    if value is None or not is_ascii_number(value, 10) or not 0 < int(value) < 2**32:
        raise BadRequest("Identifiant de message invalide.")
    return int(value)


def folder_param(value: str | None) -> str:
    if not value or len(value) > 500 or any(c in value for c in "\r\n\x00"):
        raise BadRequest("Dossier invalide.")
    return value
