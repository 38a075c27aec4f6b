"""The second factor: a code at every login (enrolment at the first one, views/enrolment.py),
recovery codes, and the account page where it is managed along with the open sessions.

Passing the second factor never upgrades the password-only session: a new session with a
new id and a new key replaces it, so an id seen before login is worthless after.
"""

from __future__ import annotations

import asyncio
import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.auth import budget, email_code, totp
from webmail.auth.throttle import Lock
from webmail.errors import BadRequest, Forbidden, NotFound
from webmail.i18n import N_
from webmail.mail import smtp
from webmail.templating import render
from webmail.views import code_checks as checks
from webmail.views import image_senders
from webmail.views.auth import locked_message, set_cookie
from webmail.views.common import (
    Authenticated,
    audit,
    authenticated,
    client_ip,
    services,
    session_cookie_name,
    state_change,
    text_field,
)
from webmail.views.enrolment import confirm as check_enrolment
from webmail.views.enrolment import enrol_page
from webmail.views.session_end import end_sessions


async def otp_page(request: Request) -> Response:
    auth = await authenticated(request, complete=False)
    app = services(request)
    enrolment = await app.second_factor.load(auth.user)
    if enrolment is None:
        if app.enrolled.contains(auth.user):
            return _factor_lost(request, auth)
        return await enrol_page(request, auth)
    if not app.second_factor.readable(enrolment, auth.user):
        return _factor_lost(request, auth)
    return await _code_page(request, auth)


def _factor_lost(request: Request, auth: Authenticated) -> Response:
    """Enrolled once, but the secret is gone (Redis lost): never re-enrol on a password."""
    audit(request, "otp_missing", auth, result="refused")
    raise Forbidden(
        "Votre second facteur d'authentification est introuvable. Pour votre sécurité, "
        "il ne peut pas être recréé avec le seul mot de passe : contactez le support de "
        "votre opérateur de messagerie."
    )


async def _code_page(
    request: Request,
    auth: Authenticated,
    error: str | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    """The code page, offering the email channel when the deployment and the user have it."""
    app = services(request)
    email = None
    if app.settings.email_otp:
        enrolment = await app.second_factor.load(auth.user)
        if enrolment is not None:
            email = app.second_factor.recovery_email(enrolment, auth.user)
    return render(
        request,
        "pages/otp.html",
        {
            "error": error,
            "notice": notice,
            "folder": None,
            "email_hint": email_code.masked(email) if email else None,
        },
        status_code=status,
    )


async def otp_submit(request: Request) -> Response:
    auth, form = await state_change(request, complete=False)
    app = services(request)
    ip = client_ip(request)
    tries = await app.otp_budget.session_try(auth.key)
    if tries > budget.SESSION_CODE_ATTEMPTS:
        return await checks.start_over(request, auth)
    lock = await app.otp_throttle.lock_for(auth.user, ip)
    if lock is not None:
        return await _code_page(request, auth, locked_message(lock), 429)
    code = text_field(form, "code", limit=40)
    enrolment = await app.second_factor.load(auth.user)
    if enrolment is None:
        if app.enrolled.contains(auth.user):
            return _factor_lost(request, auth)
        return await _confirm_enrolment(request, auth, code, action="/login/otp")
    if not app.second_factor.readable(enrolment, auth.user):
        return _factor_lost(request, auth)
    reservation = None
    if totp.six_digits(code) is not None:
        # A 6-digit guess costs the account's budget, whatever the network; recovery codes
        # do not, so the owner keeps a way in while an attacker exhausts it.
        reserved = await app.otp_budget.reserve(auth.user, ip)
        if isinstance(reserved, Lock):
            seconds = reserved.seconds_left
            audit(request, "otp_account_locked", auth, result="locked", seconds=seconds)
            return await _code_page(request, auth, locked_message(reserved, account_wide=True), 429)
        reservation = reserved
    method = await checks.proof(request, auth, code, enrolment)
    if method is None:
        message, status = await checks.failure(request, app.otp_throttle, auth)
        if tries >= budget.SESSION_CODE_ATTEMPTS:
            return await checks.start_over(request, auth)
        return await _code_page(request, auth, message, status)
    if reservation is not None:
        await app.otp_budget.give_back(reservation)
    await app.otp_throttle.succeeded(auth.user, ip)
    return await _complete_login(request, auth, method=method)


async def send_email_code(request: Request) -> Response:
    """Second channel: a 6-digit code, valid ten minutes, to the user's recovery address,
    sent through the operator's SMTP service with the user's own login."""
    auth, _form = await state_change(request, complete=False)
    app = services(request)
    enrolment = await app.second_factor.load(auth.user)
    address = app.second_factor.recovery_email(enrolment, auth.user) if enrolment else None
    if not app.settings.email_otp or address is None:
        raise NotFound("Aucune adresse de secours n'est enregistrée pour ce compte.")
    codes = app.second_factor.email_codes
    if not await codes.may_send(auth.user):  # per account: other sessions count too
        return await _code_page(
            request,
            auth,
            N_("Un code vient d'être envoyé. Attendez une minute avant d'en demander un autre."),
            429,
        )
    code = email_code.new_code()
    try:
        await smtp.send(
            app.settings.smtp,
            app.pool.ssl_context,
            auth.user,
            auth.password,
            email_code.message(auth.user, address, code),
            [address],
            app.settings.smtp_timeouts,
            login=app.settings.login_name(auth.user),
        )
    except smtp.SmtpError:
        await codes.send_failed(auth.user)
        audit(request, "otp_email_sent", auth, result="failed")
        return await _code_page(
            request,
            auth,
            N_(
                "Le code n'a pas pu être envoyé par e-mail. Utilisez votre application ou un code "
                "de secours."
            ),
            503,
        )
    await codes.store(auth.user, code)
    audit(request, "otp_email_sent", auth)
    return await _code_page(
        request,
        auth,
        notice=N_("Un code valable 10 minutes a été envoyé à votre adresse de secours."),
    )


async def set_recovery_email(request: Request) -> Response:
    auth, form = await state_change(request)
    if not services(request).settings.email_otp:
        raise NotFound("Cette option n'est pas proposée par votre opérateur.")
    if not await _current_code_ok(request, auth, text_field(form, "code", limit=40)):
        return await account_page(request, error=checks.WRONG_CODE, status=401)
    address = text_field(form, "recovery_email", limit=320).strip()
    if address and not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,255}\.[a-zA-Z]{2,}", address):
        raise BadRequest("Adresse de secours invalide.")
    await services(request).second_factor.set_recovery_email(auth.user, address)
    audit(request, "otp_email_registered", auth, removed=not address)
    return RedirectResponse("/account?notice=email", status_code=303)


async def _confirm_enrolment(
    request: Request, auth: Authenticated, code: str, *, action: str
) -> Response:
    outcome = await check_enrolment(request, auth, code, action=action)
    if isinstance(outcome, Response):
        return outcome
    return await _complete_login(request, auth, method="enrolment", recovery_codes=outcome)


async def _complete_login(
    request: Request,
    auth: Authenticated,
    *,
    method: str,
    recovery_codes: list[str] | None = None,
) -> Response:
    """Replace the session by a new one (new id, new key) that opens the mailbox.

    ``method`` says how the second factor was proved (totp, recovery, email, enrolment)."""
    app = services(request)
    ip = client_ip(request)
    cookie, session = await app.sessions.create(
        auth.user, auth.password, client_ip=ip, user_agent=request.headers.get("user-agent", "")
    )
    await app.sessions.delete_by_hash(auth.key, auth.user)
    app.pool.rekey(auth.key, session.id_hash)
    await app.otp_budget.remember(auth.user, ip)  # this network now gets past account locks
    # Listed in the registry's current form, whatever the key: off the event loop (scrypt).
    await asyncio.to_thread(app.enrolled.add, auth.user)
    app.audit.record(
        "login", account=auth.user, client_ip=ip, session=session.id_hash, method=method
    )
    if recovery_codes is not None:
        request.state.user = session.user
        request.state.csrf_token = session.csrf_token
        response: Response = render(
            request, "pages/recovery_codes.html", {"codes": recovery_codes, "folder": None}
        )
    else:
        target = "/mail?notice=recovery" if method == "recovery" else "/mail"
        response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, session_cookie_name(request), cookie.encode(), max_age=None)
    return response


# -- the account page: second factor and sessions -----------------------------------------


async def account_page(
    request: Request, *, error: str | None = None, status: int = 200
) -> Response:
    auth = await authenticated(request)
    app = services(request)
    enrolment = await app.second_factor.load(auth.user)
    sessions = await app.sessions.sessions_of(auth.user)
    return render(
        request,
        "pages/account.html",
        {
            "enrolment": enrolment,
            "sessions": sessions,
            "current": auth.key,
            "error": error,
            "email_otp": app.settings.email_otp,
            "recovery_email": app.second_factor.recovery_email(enrolment, auth.user)
            if enrolment
            else None,
            "notice": {
                "email": N_("Adresse de secours enregistrée."),
                "ended": N_("Session terminée."),
                "others": N_("Les autres sessions sont terminées."),
                "images": N_("Expéditeur retiré : ses images sont de nouveau bloquées."),
            }.get(request.query_params.get("notice", "")),
            "folder": None,
            "image_senders": await image_senders.listed(request, auth),
        },
        status_code=status,
    )


async def account_view(request: Request) -> Response:
    return await account_page(request)


async def regenerate_codes(request: Request) -> Response:
    auth, form = await state_change(request)
    if not await _current_code_ok(request, auth, text_field(form, "code", limit=40)):
        return await account_page(request, error=checks.WRONG_CODE, status=401)
    codes = await services(request).second_factor.regenerate_recovery(auth.user)
    audit(request, "otp_recovery_regenerated", auth)
    return render(request, "pages/recovery_codes.html", {"codes": codes, "folder": None})


async def start_reenrolment(request: Request) -> Response:
    auth, form = await state_change(request)
    if not await _current_code_ok(request, auth, text_field(form, "code", limit=40)):
        return await account_page(request, error=checks.WRONG_CODE, status=401)
    auth.session.pending_secret = ""
    return await enrol_page(request, auth, action="/account/otp/enrol")


async def confirm_reenrolment(request: Request) -> Response:
    auth, form = await state_change(request)
    if not auth.session.pending_secret:
        raise BadRequest("Aucun changement d'application en cours.")
    # Same proof as at the first login; the new session it ends with is the privilege change.
    code = text_field(form, "code", limit=40)
    return await _confirm_enrolment(request, auth, code, action="/account/otp/enrol")


async def _current_code_ok(request: Request, auth: Authenticated, code: str) -> bool:
    app = services(request)
    lock = await app.otp_throttle.lock_for(auth.user, client_ip(request))
    if lock is None and await app.second_factor.verify(auth.user, code) in (
        totp.Verdict.OK,
        totp.Verdict.RECOVERY,
    ):
        return True
    await checks.failure(request, app.otp_throttle, auth)
    return False


async def end_session(request: Request) -> Response:
    auth, form = await state_change(request)
    app = services(request)
    target = text_field(form, "session", limit=100)
    mine = {session.id_hash for session in await app.sessions.sessions_of(auth.user)}
    if target == "others":
        ended = sorted(mine - {auth.key})
    elif target in mine and target != auth.key:
        ended = [target]
    else:
        raise NotFound("Cette session n'existe pas ou est déjà terminée.")
    ip = client_ip(request)
    await end_sessions(
        app, auth.user, ended, "sessions_ended", client_ip=ip, session=auth.key, count=len(ended)
    )
    notice = "others" if target == "others" else "ended"
    return RedirectResponse(f"/account?notice={notice}", status_code=303)
