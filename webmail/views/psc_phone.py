"""Sign-in from the phone with Pro Santé Connect's backchannel flow (CIBA): the practitioner
types their national id on the consulting-room computer, approves in the e-CPS app, and
the waiting page signs in by itself. Nothing secret is typed on the shared computer.

The browser holds only a pre-login id (a cookie, like the code flow's); the request itself
stays in Redis (webmail.auth.ciba). The waiting page polls with htmx at the provider's
interval, or refreshes itself without script; the server asks the provider at that pace
whatever the page does.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.auth.ciba import Outcome, PhoneSignIn, Poll, TooManyPhoneStarts, Waiting, national_id
from webmail.auth.networks import client_network
from webmail.auth.oidc import PscRefused, PscUnavailable
from webmail.errors import NotFound
from webmail.formatting import PARIS
from webmail.htmx import is_htmx, vary_on_htmx, wants_fragment
from webmail.i18n import N_
from webmail.security import csrf
from webmail.templating import render
from webmail.views.auth import set_cookie
from webmail.views.common import client_ip, read_form, services, text_field
from webmail.views.psc import NOT_VERIFIED, TOO_MANY_STARTS, UNAVAILABLE, open_session

log = logging.getLogger(__name__)

# The pre-login id, to which the request is bound in Redis; the form's own token.
PHONE_COOKIE = "mss_psc_phone"
FORM_COOKIE = "mss_psc_phone_form"
PHONE_PATH = "/login/phone"
# Longer than any request lives at PSC (minutes).
PHONE_COOKIE_SECONDS = 600
# The page asks a little less often than the server may poll the provider, so that each of
# its questions finds the provider's interval over (ciba.POLL_MARGIN_SECONDS).
PAGE_POLL_MARGIN_SECONDS = 0.5

NOT_OFFERED = N_("La connexion par téléphone n'est pas proposée ici pour le moment.")
FORM_EXPIRED = N_("Le formulaire a expiré. Envoyez de nouveau la demande.")
INVALID_ID = N_(
    "Saisissez votre identifiant national : le numéro RPPS (11 chiffres) ou ADELI "
    "(9 caractères) de votre carte CPS."
)
UNKNOWN_ID = N_(
    "Pro Santé Connect ne trouve pas d'e-CPS pour cet identifiant. Vérifiez le numéro, ou "
    "connectez-vous avec votre carte CPS."
)
NOT_SENT = N_(
    "Pro Santé Connect n'a pas accepté la demande. Réessayez dans quelques minutes, ou "
    "connectez-vous avec votre carte CPS."
)
TOO_MANY_FOR_ID = N_(
    "Trop de demandes ont été envoyées pour cet identifiant. Réessayez dans dix minutes."
)
DENIED = N_("La demande a été refusée dans l'application e-CPS. Vous pouvez recommencer.")
EXPIRED = N_(
    "La demande a expiré sans avoir été validée. Envoyez-en une nouvelle, puis validez-la "
    "dans l'application e-CPS."
)
NO_REQUEST = N_(
    "Aucune demande de connexion par téléphone n'est en cours dans ce navigateur. Saisissez "
    "votre identifiant pour en envoyer une."
)
STILL_WAITING = N_("Pro Santé Connect ne répond pas pour le moment. La page réessaie toute seule.")

# What the page says for each final outcome, and with which status.
_FINAL = {
    Outcome.DENIED: (DENIED, 401),
    Outcome.EXPIRED: (EXPIRED, 410),
    Outcome.REFUSED: (NOT_VERIFIED, 401),
    Outcome.UNKNOWN: (NO_REQUEST, 404),
}


def _phone(request: Request) -> PhoneSignIn:
    phone = getattr(request.app.state, "psc_phone", None)
    if not isinstance(phone, PhoneSignIn) or not phone.config.enabled:
        raise NotFound(NOT_OFFERED)
    return phone


async def _offered(request: Request) -> PhoneSignIn:
    """The phone sign-in, when PSC advertises it; NotFound otherwise. PscUnavailable when
    PSC cannot be reached."""
    phone = _phone(request)
    if not await phone.available():
        raise NotFound(NOT_OFFERED)
    return phone


async def form_page(request: Request) -> Response:
    try:
        await _offered(request)
    except PscUnavailable as error:
        log.warning("Pro Santé Connect unreachable: %s", error)
        return _form(request, error=UNAVAILABLE, status=503)
    return _form(request)


async def start(request: Request) -> Response:
    """Send the request to the practitioner's phone, then wait for it."""
    _phone(request)
    form = await read_form(request)
    typed = text_field(form, "national_id", limit=40)
    if not csrf.same_origin(request) or not csrf.tokens_match(
        text_field(form, "form_token", limit=100), request.cookies.get(FORM_COOKIE, "")
    ):
        return _form(request, typed, error=FORM_EXPIRED, status=403)
    app = services(request)
    ip = client_ip(request)
    network = client_network(ip, app.settings.login_limits.ipv6_prefix)
    binding = secrets.token_urlsafe(32)
    try:
        phone = await _offered(request)
        # A new request replaces the one this browser may have been waiting for.
        await phone.cancel(request.cookies.get(PHONE_COOKIE, ""))
        await phone.start(binding, typed, network)
    except PscRefused as refused:
        _audit_start(request, typed, "refused", reason=refused.reason)
        known = refused.reason == "unknown_user_id"
        if refused.reason == "national_id_invalid" or known:
            return _form(request, typed, error=UNKNOWN_ID if known else INVALID_ID, status=400)
        log.warning("Pro Santé Connect refused a backchannel request: %s", refused.reason)
        return _form(request, typed, error=NOT_SENT, status=502)
    except TooManyPhoneStarts as too_many:
        _audit_start(request, typed, "locked", reason=f"too_many_per_{too_many.per}")
        message = TOO_MANY_FOR_ID if too_many.per == "national_id" else TOO_MANY_STARTS
        return _form(request, typed, error=message, status=429)
    except PscUnavailable as error:
        log.warning("Pro Santé Connect unreachable: %s", error)
        return _form(request, typed, error=UNAVAILABLE, status=503)
    _audit_start(request, typed, "ok")
    response = RedirectResponse(f"{PHONE_PATH}/wait", status_code=303)
    set_cookie(
        request, response, PHONE_COOKIE, binding, max_age=PHONE_COOKIE_SECONDS, path=PHONE_PATH
    )
    response.delete_cookie(FORM_COOKIE, path=PHONE_PATH)
    return response


async def wait(request: Request) -> Response:
    """The waiting page (or, for its own htmx poll, its status alone): still waiting, or
    signed in, or why not."""
    phone = _phone(request)
    binding = request.cookies.get(PHONE_COOKIE, "")
    try:
        poll = await phone.poll(binding)
    except PscUnavailable as error:
        # The request still stands at PSC: keep waiting, at the same pace.
        log.warning("Pro Santé Connect unreachable while polling: %s", error)
        waiting = await phone.waiting(binding)
        if waiting is None:
            # Approved, but its tokens could not be checked: the request is used up.
            return _ended(request, "", UNAVAILABLE, 503)
        return _waiting(request, waiting, warning=STILL_WAITING, status=503)
    if poll.outcome is Outcome.PENDING and poll.waiting is not None:
        return _waiting(request, poll.waiting)
    if poll.outcome is Outcome.APPROVED and poll.signed_in is not None:
        response = await open_session(request, poll.signed_in, flow="ciba")
        response.delete_cookie(PHONE_COOKIE, path=PHONE_PATH)
        return _for_htmx(request, response)
    return _final(request, poll)


async def cancel(request: Request) -> Response:
    """The "Annuler" button: forget the request; an approval on the phone then opens nothing."""
    response = RedirectResponse("/login", status_code=303)
    if not csrf.same_origin(request):
        return response
    binding = request.cookies.get(PHONE_COOKIE, "")
    await _phone(request).cancel(binding)
    services(request).audit.record(
        "psc_phone_cancel", account="", client_ip=client_ip(request), result="ok"
    )
    response.delete_cookie(PHONE_COOKIE, path=PHONE_PATH)
    return response


def _form(
    request: Request, typed: str = "", *, error: str | None = None, status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "pages/psc_phone.html",
        {"national_id": typed, "error": error, "form_token": token},
        status_code=status,
    )
    set_cookie(request, response, FORM_COOKIE, token, max_age=3600, path=PHONE_PATH)
    return response


def _waiting(
    request: Request, waiting: Waiting, *, warning: str | None = None, status: int = 200
) -> Response:
    context = {
        "code": waiting.code,
        "poll_seconds": waiting.interval + PAGE_POLL_MARGIN_SECONDS,
        "expires": datetime.fromtimestamp(waiting.expires_at, PARIS).strftime("%H:%M"),
        "warning": warning,
    }
    if wants_fragment(request):
        template = "partials/_psc_phone_status.html"
    else:
        template = "pages/psc_phone_wait.html"
    return vary_on_htmx(render(request, template, context, status_code=status))


def _final(request: Request, poll: Poll) -> Response:
    """A request that ended without a session: the form again, saying why."""
    message, status = _FINAL.get(poll.outcome, (NOT_VERIFIED, 401))
    if poll.outcome is not Outcome.UNKNOWN:
        services(request).audit.record(
            "psc_login",
            account="",
            client_ip=client_ip(request),
            result="refused",
            reason=poll.reason or poll.outcome.value,
            national_id=poll.national_id,
            flow="ciba",
        )
    return _ended(request, poll.national_id, message, status)


def _ended(request: Request, typed: str, message: str, status: int) -> Response:
    response = _form(request, typed, error=message, status=status)
    response.delete_cookie(PHONE_COOKIE, path=PHONE_PATH)
    return _for_htmx(request, response)


def _for_htmx(request: Request, response: Response) -> Response:
    """For the page's own htmx poll: a redirect becomes HX-Redirect (a full navigation with
    the new cookie), any other page replaces the whole body, which ends the polling."""
    if not is_htmx(request):
        return response
    location = response.headers.get("location")
    if response.status_code == 303 and location is not None:
        del response.headers["location"]
        response.status_code = 200
        response.headers["HX-Redirect"] = location
    else:
        response.headers["HX-Retarget"] = "body"
        response.headers["HX-Reswap"] = "innerHTML"
    return vary_on_htmx(response)


def _audit_start(request: Request, typed: str, result: str, **details: str) -> None:
    services(request).audit.record(
        "psc_phone_start",
        account="",
        client_ip=client_ip(request),
        result=result,
        # What PSC was asked for; nothing of what was typed when it was no national id.
        national_id=national_id(typed) or "",
        **details,
    )
