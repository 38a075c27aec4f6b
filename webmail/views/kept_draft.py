"""A compose form that fails, whatever the cause, comes back with everything typed in it.

Redis down, the session expired, an unexpected exception after the message left: the answer
always carries the text, with a message saying what happened and whether the message left.
Only for requests from our own pages: a forged cross-site POST is refused and never echoed,
or our origin would show an attacker's recipient and text, inviting the user to send them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from webmail.errors import Forbidden, WebmailError
from webmail.failures import described
from webmail.i18n import N_
from webmail.mail.imap import ImapAuthFailed, ImapError, ImapTokenRefused
from webmail.mail.sasl import TOKEN_REFUSED
from webmail.security import csrf
from webmail.templating import render
from webmail.views import structured
from webmail.views.common import (
    FORM_LIMITS,
    LoginRequired,
    TokenRefused,
    compose_body_fits,
    forget_session_cookie,
)
from webmail.views.psc import end_refused_session

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

TYPED = ("to", "cc", "bcc", "subject", "body")
# Sent back unchanged so that "send again" continues the same reply or forward, with the
# files already kept, under the same Message-ID: if the first attempt did leave, the send
# ledger recognises the message and asks before sending it twice.
CARRIED = (
    "mode",
    "origin_folder",
    "origin_uid",
    "in_reply_to",
    "references",
    "message_id",
    "kept_source",
    "read_receipt",  # the read receipt asked for (a checkbox: "yes" or "")
    "format",  # "html" when written with "Mise en forme", and its markup:
    "body_html",
    "from",  # the mailbox it is written from: never switched silently on "send again"
    *structured.TYPED_FIELDS,  # the patient's identity of a structured document
    csrf.TOKEN_FIELD,
)
KEPT_FILES_LIMIT = 50
FIELD_LIMIT = 2_000_000

NOT_SENT = N_("Le message n'est pas parti. Votre texte est conservé ci-dessous.")
MAYBE_SENT = N_(
    "Le message est peut-être parti : vérifiez le dossier Envoyés avant de l'envoyer de "
    "nouveau. Votre texte est conservé ci-dessous."
)
NOT_FROM_HERE = N_("Requête refusée : elle ne vient pas de cette application.")


@dataclass(frozen=True)
class Outcome:
    error: WebmailError
    note: str
    expired: bool = False
    # Shown as text, with no form to send: the request may not be the user's own.
    read_only: bool = False
    # Where "sign in again" leads, in a new tab: Pro Santé Connect itself when the mail
    # server refused its token.
    login_url: str = "/login"


def keeping_the_text(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` receives a compose form; whatever it raises, the text is given back."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as error:
            if not csrf.same_origin(request):
                raise Forbidden(NOT_FROM_HERE) from error
            form = await _typed_form(request)
            if form is None:
                raise  # nothing readable to give back: the usual error page
            outcome = _outcome(error)
            if isinstance(error, ImapTokenRefused):
                await end_refused_session(request)
            if isinstance(error, TokenRefused) and not csrf.proven_same_origin(request):
                # No token and no browser word on the origin: maybe a forged post from an old
                # browser. Its text is shown, but never in a form that could now be sent.
                outcome = replace(outcome, read_only=True)
            return _given_back(request, outcome, form)

    return guarded


def _outcome(error: Exception) -> Outcome:
    if isinstance(error, ImapTokenRefused):
        return Outcome(LoginRequired(TOKEN_REFUSED), "", True, login_url="/login/psc")
    if isinstance(error, LoginRequired | ImapAuthFailed):
        # The session is over (expired, or the password changed): sign in again first.
        return Outcome(LoginRequired(N_("Votre session a expiré. Reconnectez-vous.")), "", True)
    shown = described(error)
    if shown.status == 500:
        log.exception("unexpected error while sending", exc_info=error)
        # It may have failed after the server took the message: never claim it did not.
        return Outcome(
            WebmailError(N_("Une erreur inattendue est survenue."), status=500), MAYBE_SENT
        )
    if not isinstance(error, WebmailError | ImapError):
        log.error("compose form failed: %s", type(error).__name__)
    return Outcome(shown, NOT_SENT)


async def _typed_form(request: Request) -> FormData | None:
    """The form as posted, if it can be read without reading an oversized body."""
    if not compose_body_fits(request):
        return None
    try:
        # Already parsed by the view in most cases: this returns that same form.
        return await request.form(**FORM_LIMITS)
    except Exception:  # an unreadable body: nothing to give back
        return None


def _given_back(request: Request, outcome: Outcome, form: FormData) -> Response:
    values: dict[str, object] = {
        name: value[:FIELD_LIMIT]
        for name in (*TYPED, *CARRIED)
        if isinstance(value := form.get(name, ""), str)
    }
    kept = [value[:100] for value in form.getlist("keep") if isinstance(value, str)]
    values["keep"] = kept[:KEPT_FILES_LIMIT]
    # When the session is known, its token: "send again" then works even if the token
    # posted was stale (a page older than the session), which may be why this failed.
    if not outcome.read_only and (current := getattr(request.state, "csrf_token", "")):
        values[csrf.TOKEN_FIELD] = csrf.masked(current)
    response = render(
        request,
        "pages/kept_draft.html",
        {
            "title": outcome.error.title,
            "message": outcome.error.message,
            "note": outcome.note,
            "expired": outcome.expired,
            "login_url": outcome.login_url,
            "read_only": outcome.read_only,
            "draft": values,
            "carried": CARRIED,
            "folder": None,
        },
        status_code=outcome.error.status,
    )
    if outcome.expired:
        forget_session_cookie(request, response)
    return response
