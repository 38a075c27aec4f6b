"""create_app(settings): routes, middleware and error pages, nothing else."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from webmail import i18n
from webmail.auth.budget import SecondFactorBudget
from webmail.auth.ciba import PhoneSignIn
from webmail.auth.oidc import PscClient
from webmail.auth.registry import EnrolmentRegistry
from webmail.auth.sessions import SessionStore, SessionStoreUnavailable
from webmail.auth.throttle import Throttle
from webmail.auth.totp import SecondFactorStore
from webmail.directory.index import DirectoryIndex
from webmail.errors import WebmailError
from webmail.failures import described
from webmail.htmx import client_redirect, is_htmx
from webmail.i18n import N_
from webmail.mail.connections import ConnectionPool
from webmail.mail.imap import ImapAuthFailed, ImapError, ImapTokenRefused, ImapUnavailable
from webmail.security.audit import AuditLog
from webmail.security.headers import SecurityHeadersMiddleware, add_security_headers
from webmail.settings import Settings
from webmail.templating import STATIC_DIR, render
from webmail.trust.source import open_source
from webmail.views import (
    auth,
    autosave,
    compose,
    directory,
    documents,
    drafts_open,
    mailbox,
    message,
    psc,
    psc_phone,
    second_factor,
    shared_mailboxes,
    signature,
    undo_send,
)
from webmail.views.common import (
    LANGUAGE_COOKIE,
    LoginRequired,
    Services,
    forget_session_cookie,
    state_change,
)
from webmail.views.kept_draft import keeping_the_text
from webmail.views.recipient_trust import recipients_marked

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = redis_client(settings.redis_url)
        pool = ConnectionPool(settings)
        audit = AuditLog(settings.audit_log)
        index = DirectoryIndex(settings.directory.index) if settings.directory else None
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
            psc=PscClient(settings.psc, redis) if settings.psc is not None else None,
            trust=await open_source(settings.trust),
            directory=index,
        )
        psc_client = app.state.services.psc
        # Sign-in from the phone (CIBA), over the same client as the code flow.
        app.state.psc_phone = (
            PhoneSignIn(psc_client, redis, settings.psc_phone) if psc_client is not None else None
        )
        pool.start_reaper()
        try:
            async with undo_send.running(app.state.services) as scheduled_sends:
                app.state.scheduled_sends = scheduled_sends
                yield
        finally:
            await pool.close_all()
            await redis.aclose()
            audit.close()
            if index is not None:
                index.close()

    routes = [
        Route("/", mailbox.home),
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/login/psc", psc.start, methods=["GET"]),
        Route("/login/psc/callback", psc.callback, methods=["GET"]),
        Route("/login/psc/logout", psc.logged_out, methods=["GET"]),
        Route("/login/phone", psc_phone.form_page, methods=["GET"]),
        Route("/login/phone", psc_phone.start, methods=["POST"]),
        Route("/login/phone/wait", psc_phone.wait, methods=["GET"]),
        Route("/login/phone/cancel", psc_phone.cancel, methods=["POST"]),
        Route("/login/otp", second_factor.otp_page, methods=["GET"]),
        Route("/login/otp", second_factor.otp_submit, methods=["POST"]),
        Route("/login/otp/email", second_factor.send_email_code, methods=["POST"]),
        Route("/account/recovery-email", second_factor.set_recovery_email, methods=["POST"]),
        Route("/account", second_factor.account_view, methods=["GET"]),
        Route("/account/signature", signature.signature_page, methods=["GET"]),
        Route("/account/signature", signature.save_signature, methods=["POST"]),
        Route("/account/recovery-codes", second_factor.regenerate_codes, methods=["POST"]),
        Route("/account/otp/reenrol", second_factor.start_reenrolment, methods=["POST"]),
        Route("/account/otp/enrol", second_factor.confirm_reenrolment, methods=["POST"]),
        Route("/account/sessions/end", second_factor.end_session, methods=["POST"]),
        Route("/language", auth.choose_language, methods=["GET"]),
        Route("/mail", mailbox.message_list, methods=["GET"]),
        Route("/mail/folders", mailbox.folders_page, methods=["GET"]),
        Route("/mail/mailbox", shared_mailboxes.switch, methods=["POST"]),
        Route("/mail/flag", mailbox.toggle_flag, methods=["POST"]),
        Route("/mail/move", mailbox.move_message, methods=["POST"]),
        Route("/mail/delete", mailbox.delete_message, methods=["POST"]),
        Route("/mail/message", message.show_message, methods=["GET"]),
        Route("/mail/message/frame", message.message_frame, methods=["GET"]),
        Route("/mail/attachment", message.download_attachment, methods=["GET"]),
        Route("/mail/inline", message.inline_image, methods=["GET"]),
        Route("/mail/xdm/document", documents.show_document, methods=["GET"]),
        Route("/mail/xdm/document/frame", documents.document_frame, methods=["GET"]),
        Route("/mail/xdm/file", documents.document_file, methods=["GET"]),
        Route("/directory", directory.directory_page, methods=["GET"]),
        Route("/compose", compose.compose_form, methods=["GET"]),
        Route("/compose/draft", drafts_open.open_draft, methods=["GET"]),
        Route("/compose/recipients", directory.recipient_suggestions, methods=["GET"]),
        Route("/compose", keeping_the_text(compose.send_or_save), methods=["POST"]),
        Route("/compose/autosave", autosave.autosave, methods=["POST"]),
        Route("/compose/undo", undo_send.waiting_page, methods=["GET"]),
        Route("/compose/undo", undo_send.cancel, methods=["POST"]),
        Route("/compose/recipients", recipients_marked, methods=["POST"]),
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


def redis_client(url: str) -> Redis:
    """Redis for sessions, second factors and throttles, surviving a Redis restart.

    After a restart every pooled connection is dead: a command that fails on one is retried on a
    new connection rather than failing the request. A few quick tries cover a restart; a Redis
    that stays down still gets a 503 within about a second (a few seconds if it hangs).
    Connections idle for 30 s are checked (PING) before use.
    """
    return Redis.from_url(
        url,
        socket_timeout=3,
        # Short: redis-py retries the connect inside each retried command, so a Redis host
        # that drops packets costs up to (retries + 1)² connect timeouts.
        socket_connect_timeout=1,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=30,
    )


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
            # Translated where shown, by the template's `translated` filter.
            "title": error.title,
            "message": error.message,
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
    return error_page(request, exc)


async def imap_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ImapTokenRefused):
        return await psc.mail_access_refused(request)
    if isinstance(exc, ImapAuthFailed):
        # The password changed since login: the session cannot reconnect.
        return _to_login(request)
    if isinstance(exc, ImapUnavailable):
        log.warning("IMAP unavailable: %s", type(exc).__name__)
    else:
        log.warning("IMAP command failed: %s", exc)
    return error_page(request, described(exc))


async def session_store_error(request: Request, exc: Exception) -> Response:
    log.error("session store unavailable")
    return error_page(request, described(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {
        404: (N_("Introuvable"), N_("Cette page n'existe pas.")),
        405: (N_("Méthode non autorisée"), N_("Cette action n'est pas possible ainsi.")),
    }
    title, text = titles.get(exc.status_code, (N_("Erreur"), N_("La requête n'a pas pu aboutir.")))
    return error_page(request, WebmailError(text, status=exc.status_code, title=title))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """The last resort. Starlette runs it outside our middleware, so it sets the headers itself."""
    log.exception("unexpected error on %s", request.url.path)
    if request.method in ("GET", "HEAD"):
        error = described(exc)
    else:
        # A POST may have changed something before failing: never claim it did not.
        error = WebmailError(
            N_(
                "Une erreur inattendue est survenue. Vérifiez si l'action a abouti "
                "avant de la recommencer."
            ),
            status=500,
        )
    response = error_page(request, error)
    add_security_headers(response.headers)
    return response
