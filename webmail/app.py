"""create_app(settings): routes, middleware and error pages, nothing else."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from webmail import i18n
from webmail.assets import STATIC_ASSETS
from webmail.auth.budget import SecondFactorBudget
from webmail.auth.ciba import PhoneSignIn
from webmail.auth.oidc import PscClient
from webmail.auth.registry import EnrolmentRegistry
from webmail.auth.sessions import SessionStore, SessionStoreUnavailable, redis_errors
from webmail.auth.throttle import Throttle
from webmail.auth.totp import SecondFactorStore
from webmail.compression import CompressionMiddleware
from webmail.directory.index import DirectoryIndex
from webmail.errors import WebmailError
from webmail.failures import described
from webmail.htmx import client_redirect, is_htmx
from webmail.i18n import N_
from webmail.mail.broadcast import SessionEnds
from webmail.mail.connection_limits import UserSlots
from webmail.mail.connections import ConnectionPool
from webmail.mail.imap import ImapAuthFailed, ImapError, ImapTokenRefused, ImapUnavailable
from webmail.mail.watch import WatcherLeases, Watchers
from webmail.ops import gc_tuning
from webmail.ops.redis_client import redis_client
from webmail.security.audit import AuditLog
from webmail.security.headers import SecurityHeadersMiddleware, add_security_headers
from webmail.security.proxy import TrustedProxyMiddleware
from webmail.settings import Settings
from webmail.static_files import StaticAssets, favicon, robots
from webmail.templating import render
from webmail.trust.source import open_source
from webmail.views import (
    attachments,
    auth,
    autosave,
    compose,
    conversation,
    cps,
    directory,
    documents,
    drafts_open,
    events,
    folders_admin,
    image_senders,
    mailbox,
    message,
    previews,
    psc,
    psc_phone,
    receipts,
    search,
    second_factor,
    shared_mailboxes,
    signature,
    triage,
    undo_send,
)
from webmail.views.common import (
    LANGUAGE_COOKIE,
    LoginRequired,
    Services,
    forget_session_cookie,
    services,
    session_cookie_name,
    state_change,
)
from webmail.views.kept_draft import keeping_the_text
from webmail.views.recipient_trust import recipients_marked

if TYPE_CHECKING:
    from webmail.ops.metrics import Metrics

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    metrics = metrics_for(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        STATIC_ASSETS.prepare()
        redis = redis_client(settings.redis)
        pool = ConnectionPool(settings, imap_slots(redis, settings))
        audit = AuditLog(settings.audit_log) if metrics is None else metrics.audit_log(settings)
        listener = start_metrics(metrics, settings, pool)
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
        live = settings.live
        watchers = Watchers(pool, WatcherLeases(redis, live.watchers_per_user), live)
        app.state.watchers = watchers
        ends = SessionEnds(redis, pool.discard, lambda: {*pool.sessions(), *watchers.sessions()})
        app.state.services.broadcast = ends
        ends.start()
        pool.start_reaper()
        gc_tuning.settle()
        try:
            async with undo_send.running(app.state.services) as scheduled_sends:
                app.state.scheduled_sends = scheduled_sends
                yield
        finally:
            if listener is not None:
                listener.shutdown()
                listener.server_close()
            await ends.stop()
            await app.state.watchers.close_all()
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
        Route("/login/cps", cps.form_page, methods=["GET"]),
        Route("/login/cps", cps.sign_in, methods=["POST"]),
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
        Route("/mail/folders", folders_admin.folders_page, methods=["GET"]),
        Route("/mail/folders/create", folders_admin.create_folder, methods=["POST"]),
        Route("/mail/folders/rename", folders_admin.rename_form, methods=["GET"]),
        Route("/mail/folders/rename", folders_admin.rename_folder, methods=["POST"]),
        Route("/mail/folders/delete", folders_admin.delete_form, methods=["GET"]),
        Route("/mail/folders/delete", folders_admin.delete_folder, methods=["POST"]),
        Route("/mail/order", search.choose_order, methods=["POST"]),
        Route("/search", search.search_page, methods=["GET"]),
        Route("/mail/events", events.events, methods=["GET"]),
        Route("/mail/conversation", conversation.show_conversation, methods=["GET"]),
        Route("/mail/conversations/mode", conversation.choose_mode, methods=["POST"]),
        Route("/mail/mailbox", shared_mailboxes.switch, methods=["POST"]),
        Route("/mail/flag", mailbox.toggle_flag, methods=["POST"]),
        Route("/mail/move", triage.move_message, methods=["POST"]),
        Route("/mail/archive", triage.archive_message, methods=["POST"]),
        Route("/mail/delete", triage.delete_message, methods=["POST"]),
        Route("/mail/selection", triage.selection, methods=["POST"]),
        Route("/mail/read-all", triage.mark_all_read, methods=["POST"]),
        Route("/mail/empty-trash", triage.empty_trash, methods=["POST"]),
        Route("/mail/undo", triage.undo_action, methods=["POST"]),
        Route("/mail/message", message.show_message, methods=["GET"]),
        Route("/mail/message/frame", message.message_frame, methods=["GET"]),
        Route("/mail/attachment", attachments.download_attachment, methods=["GET"]),
        Route("/mail/inline", attachments.inline_image, methods=["GET"]),
        Route("/mail/preview", previews.preview, methods=["GET"]),
        Route("/mail/receipt", receipts.answer, methods=["POST"]),
        Route("/mail/image-senders", image_senders.always_for_sender, methods=["POST"]),
        Route("/account/image-senders/remove", image_senders.take_back, methods=["POST"]),
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
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/robots.txt", robots, methods=["GET"]),
        Mount("/static", StaticAssets(), name="static"),
    ]
    measured = [metrics.middleware(routes)] if metrics is not None else []
    app = Starlette(
        routes=routes,
        middleware=[
            # First: every later step sees the client's real address and scheme.
            Middleware(TrustedProxyMiddleware, config=settings.proxy),
            Middleware(CompressionMiddleware),
            *measured,
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


def metrics_for(settings: Settings) -> Metrics | None:
    """Metrics only when a listener is configured: otherwise nothing is counted at all, and
    prometheus-client is not even loaded."""
    if settings.metrics.listen is None:
        return None
    from webmail.ops.metrics import Metrics

    return Metrics()


def start_metrics(
    metrics: Metrics | None, settings: Settings, pool: ConnectionPool
) -> WSGIServer | None:
    if metrics is None or settings.metrics.listen is None:
        return None
    metrics.watch_imap(pool.open_connections)
    return metrics.serve(settings.metrics.listen)


def imap_slots(redis: Redis, settings: Settings) -> UserSlots:
    # A slot outlives its idle connection by two minutes (the reaper runs every 30 s).
    ttl = settings.imap_idle_close_seconds + 120
    return UserSlots(redis, settings.connection_limits.per_user, ttl)


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
    """For load balancers: this instance answers and reaches Redis (one PING). It says nothing
    about mail, and never reaches the IMAP server: one slow mail server must not take every
    instance out of the pool."""
    try:
        with redis_errors():
            await services(request).sessions.redis.ping()
    except SessionStoreUnavailable:
        return Response("redis unavailable", status_code=503, media_type="text/plain")
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
    # "Votre session a expiré" only to a browser that had one: not on a first visit.
    had_session = session_cookie_name(request) in request.cookies
    target = "/login?notice=expired" if had_session else "/login"
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
