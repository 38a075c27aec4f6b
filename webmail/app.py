"""create_app(settings): routes, middleware and error pages, nothing else."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from webmail import i18n
from webmail.auth.budget import SecondFactorBudget
from webmail.auth.registry import EnrolmentRegistry
from webmail.auth.sessions import SessionStore, SessionStoreUnavailable
from webmail.auth.throttle import Throttle
from webmail.auth.totp import SecondFactorStore
from webmail.errors import NotFound, ServiceUnavailable, WebmailError
from webmail.htmx import client_redirect, is_htmx
from webmail.i18n import N_
from webmail.mail.connections import ConnectionPool
from webmail.mail.imap import ImapAuthFailed, ImapError, ImapUnavailable, MailboxNotFound
from webmail.security.audit import AuditLog
from webmail.security.headers import SecurityHeadersMiddleware
from webmail.settings import Settings
from webmail.templating import STATIC_DIR, render
from webmail.views import auth, compose, mailbox, message, second_factor
from webmail.views.common import (
    LANGUAGE_COOKIE,
    LoginRequired,
    Services,
    forget_session_cookie,
    state_change,
)

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
        pool = ConnectionPool(settings)
        audit = AuditLog(settings.audit_log)
        app.state.services = Services(
            audit=audit,
            second_factor=SecondFactorStore(redis, settings.secret_key),
            enrolled=EnrolmentRegistry(
                settings.data_dir / "enrolled-accounts", settings.secret_key
            ),
            password_throttle=Throttle(redis, settings.login_limits, "password"),
            otp_throttle=Throttle(redis, settings.login_limits, "otp"),
            otp_budget=SecondFactorBudget(redis, settings.login_limits.ipv6_prefix),
            settings=settings,
            sessions=SessionStore(
                redis, settings.session_idle_seconds, settings.session_absolute_seconds
            ),
            pool=pool,
        )
        pool.start_reaper()
        try:
            yield
        finally:
            await pool.close_all()
            await redis.aclose()
            audit.close()

    routes = [
        Route("/", mailbox.home),
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/login/otp", second_factor.otp_page, methods=["GET"]),
        Route("/login/otp", second_factor.otp_submit, methods=["POST"]),
        Route("/login/otp/email", second_factor.send_email_code, methods=["POST"]),
        Route("/account/recovery-email", second_factor.set_recovery_email, methods=["POST"]),
        Route("/account", second_factor.account_view, methods=["GET"]),
        Route("/account/recovery-codes", second_factor.regenerate_codes, methods=["POST"]),
        Route("/account/otp/reenrol", second_factor.start_reenrolment, methods=["POST"]),
        Route("/account/otp/enrol", second_factor.confirm_reenrolment, methods=["POST"]),
        Route("/account/sessions/end", second_factor.end_session, methods=["POST"]),
        Route("/language", auth.choose_language, methods=["GET"]),
        Route("/mail", mailbox.message_list, methods=["GET"]),
        Route("/mail/folders", mailbox.folders_page, methods=["GET"]),
        Route("/mail/flag", mailbox.toggle_flag, methods=["POST"]),
        Route("/mail/move", mailbox.move_message, methods=["POST"]),
        Route("/mail/delete", mailbox.delete_message, methods=["POST"]),
        Route("/mail/message", message.show_message, methods=["GET"]),
        Route("/mail/message/frame", message.message_frame, methods=["GET"]),
        Route("/mail/attachment", message.download_attachment, methods=["GET"]),
        Route("/mail/inline", message.inline_image, methods=["GET"]),
        Route("/compose", compose.compose_form, methods=["GET"]),
        Route("/compose", compose.send_or_save, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/session/keepalive", keepalive, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(LanguageMiddleware, default=settings.default_language),
        ],
        exception_handlers={
            WebmailError: webmail_error,
            ImapError: imap_error,
            SessionStoreUnavailable: session_store_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
        lifespan=lifespan,
    )
    return app


class LanguageMiddleware:
    """Sets the request's language (cookie, else the deployment default) before any view."""

    def __init__(self, app: object, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            request = Request(scope)
            language = i18n.pick_language(request.cookies.get(LANGUAGE_COOKIE), None, self.default)
            scope.setdefault("state", {})["language"] = language
            i18n.current_language.set(language)
        await self.app(scope, receive, send)  # type: ignore[operator]


async def health(request: Request) -> Response:
    return Response("ok", media_type="text/plain")


async def keepalive(request: Request) -> Response:
    """Resets the idle clock when the user says "stay connected" (a POST: it changes state)."""
    await state_change(request)
    return Response(status_code=204)


def error_page(request: Request, error: WebmailError) -> Response:
    if isinstance(error, LoginRequired):
        return _to_login(request)
    response = render(
        request,
        "pages/error.html",
        {
            "title": i18n._(error.title),
            "message": i18n._(error.message),
            "status": error.status,
            "folder": None,
        },
        status_code=error.status,
    )
    if is_htmx(request):
        # Show the error in place of the whole page rather than inside a fragment.
        response.headers["HX-Retarget"] = "body"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def _to_login(request: Request) -> Response:
    target = "/login?notice=expired"
    if is_htmx(request):
        response = client_redirect(target, status=401)
    else:
        response = RedirectResponse(target, status_code=303)
    forget_session_cookie(request, response)
    return response


async def webmail_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebmailError)
    if (
        isinstance(exc, LoginRequired)
        and request.method == "POST"
        and request.url.path == "/compose"
    ):
        return await _expired_while_writing(request)
    return error_page(request, exc)


async def _expired_while_writing(request: Request) -> Response:
    """The session ended while a message was being written: give the text back, never lose it."""
    try:
        form = await request.form(max_files=20, max_fields=60, max_part_size=2 * 1024 * 1024)
    except Exception:  # unreadable body: nothing to give back
        return _to_login(request)
    draft = {
        name: str(form.get(name, ""))[:2_000_000]
        for name in ("to", "cc", "subject", "body")
        if isinstance(form.get(name, ""), str)
    }
    await form.close()
    response = render(
        request, "pages/expired_draft.html", {"draft": draft, "folder": None}, status_code=401
    )
    forget_session_cookie(request, response)
    return response


async def imap_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, MailboxNotFound):
        return error_page(request, NotFound("Ce dossier n'existe pas."))
    if isinstance(exc, ImapAuthFailed):
        # The password changed since login: the session cannot reconnect.
        return _to_login(request)
    if isinstance(exc, ImapUnavailable):
        log.warning("IMAP unavailable: %s", type(exc).__name__)
        return error_page(
            request,
            ServiceUnavailable(
                "Le serveur de messagerie ne répond pas. Réessayez dans quelques instants."
            ),
        )
    log.warning("IMAP command failed: %s", exc)
    return error_page(
        request, WebmailError("Le serveur de messagerie a refusé l'opération.", status=502)
    )


async def session_store_error(request: Request, exc: Exception) -> Response:
    log.error("session store unavailable")
    return error_page(
        request,
        ServiceUnavailable(
            "Le service de sessions est momentanément indisponible. "
            "Réessayez dans quelques instants."
        ),
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {
        404: (N_("Introuvable"), N_("Cette page n'existe pas.")),
        405: (N_("Méthode non autorisée"), N_("Cette action n'est pas possible ainsi.")),
    }
    title, text = titles.get(exc.status_code, (N_("Erreur"), N_("La requête n'a pas pu aboutir.")))
    return error_page(request, WebmailError(text, status=exc.status_code, title=title))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    return error_page(
        request,
        WebmailError(
            "Une erreur inattendue est survenue. Vos données n'ont pas été modifiées.", status=500
        ),
    )
