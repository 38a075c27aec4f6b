"""What a submitted second-factor code proves, and what happens when it proves nothing:
the views of ``second_factor`` share these answers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from webmail.auth import totp
from webmail.auth.throttle import Throttle
from webmail.errors import Forbidden
from webmail.i18n import N_
from webmail.views.auth import locked_message, login_again
from webmail.views.common import Authenticated, audit, client_ip, services

START_OVER = N_("Trop de codes incorrects. Saisissez de nouveau votre mot de passe.")


async def proof(
    request: Request, auth: Authenticated, code: str, enrolment: totp.Enrolment | None = None
) -> str | None:
    """How the code proves the second factor ("email", "totp", "recovery"), consuming it;
    None if it proves nothing. ``enrolment``: the account's, when the caller has loaded it."""
    app = services(request)
    digits = totp.six_digits(code)
    if (
        digits is not None
        and app.settings.email_otp
        and await app.second_factor.email_codes.consume(auth.user, digits)
    ):
        audit(request, "otp_email_used", auth)
        return "email"
    verdict = await app.second_factor.verify(auth.user, code, enrolment)
    if verdict == totp.Verdict.OK:
        return "totp"
    if verdict == totp.Verdict.RECOVERY:
        audit(request, "otp_recovery_used", auth)
        return "recovery"
    # A replayed code is someone who saw it: a security event, counted like a wrong one.
    replay = verdict == totp.Verdict.REPLAY
    audit(request, "otp_replay" if replay else "otp_failed", auth, result="refused")
    return None


async def start_over(request: Request, auth: Authenticated) -> Response:
    """Too many codes tried in one password-only session: it ends; the password again."""
    app = services(request)
    await app.sessions.delete_by_hash(auth.key)
    audit(request, "otp_session_ended", auth, result="locked")
    return login_again(request, auth.user, START_OVER, 429)


WRONG_CODE = N_("Code incorrect ou déjà utilisé. Saisissez le code actuel de votre application.")


async def failure(request: Request, throttle: Throttle, auth: Authenticated) -> tuple[str, int]:
    """Count a wrong code; the message and status to answer (429 once it locks)."""
    lock = await throttle.failed(auth.user, client_ip(request))
    if lock is None:
        return WRONG_CODE, 401
    audit(request, "otp_locked", auth, result="locked", seconds=lock.seconds_left)
    return locked_message(lock), 429


async def enrolled_meanwhile(request: Request, auth: Authenticated, secret: str) -> list[str]:
    """Another request enrolled the account while this one was on its way: the same form sent
    twice (a double tap) gets fresh recovery codes for the secret both carried; a different
    secret is refused, never swapped in under the user who enrolled first."""
    store = services(request).second_factor
    enrolment = await store.load(auth.user)
    if enrolment is None or not store.holds(enrolment, auth.user, secret):
        audit(request, "otp_enrol_conflict", auth, result="refused")
        raise Forbidden(
            "Le second facteur de ce compte vient d'être activé depuis un autre appareil. "
            "Reconnectez-vous et saisissez le code de cette application.",
            status=409,
        )
    return await store.regenerate_recovery(auth.user)
