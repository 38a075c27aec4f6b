"""Enrolling the second factor: the page that shows a new TOTP secret (QR code, a link that
opens the authenticator on this very device, the key in groups of four), and the check of
the first code against it.

The same page serves the first login and the change of application from the account page;
what happens after a good code (a new session, the recovery codes) is the caller's.
"""

from __future__ import annotations

import asyncio

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from webmail.auth import totp
from webmail.templating import render
from webmail.views import code_checks as checks
from webmail.views.common import Authenticated, audit, client_ip, services


def secret_groups(secret: str) -> list[str]:
    """The key in groups of four, as it is read aloud or typed on a phone's keyboard."""
    return [secret[i : i + 4] for i in range(0, len(secret), 4)]


async def enrol_page(
    request: Request,
    auth: Authenticated,
    *,
    action: str = "/login/otp",
    error: str | None = None,
    status: int = 200,
) -> Response:
    store = services(request).sessions
    secret = store.unseal(auth.session, auth.cookie, auth.session.pending_secret)
    if secret is None:
        secret = totp.new_secret()
        auth.session.pending_secret = store.seal(auth.session, auth.cookie, secret)
        await store.save(auth.session)
    # One URI for the QR code and the link: a phone cannot scan its own screen. It holds
    # the secret, so it goes into this page only, never into a log.
    uri = totp.provisioning_uri(secret, auth.user)
    return render(
        request,
        "pages/enrol.html",
        {
            "qr": Markup(totp.qr_svg(uri)),  # noqa: S704 - SVG drawn by segno from our own URI
            "otpauth_uri": uri,
            "secret_groups": secret_groups(secret),
            "action": action,
            "error": error,
            "folder": None,
        },
        status_code=status,
    )


async def confirm(
    request: Request, auth: Authenticated, code: str, *, action: str
) -> list[str] | Response:
    """The recovery codes once ``code`` proves the pending secret is in the user's
    application; else the enrolment page again, with the error."""
    app = services(request)
    secret = app.sessions.unseal(auth.session, auth.cookie, auth.session.pending_secret)
    step = totp.code_matches_step(secret, code) if secret else None
    if secret is None or step is None:
        message, status = await checks.failure(request, app.otp_throttle, auth)
        return await enrol_page(request, auth, action=action, error=message, status=status)
    first = action == "/login/otp"
    codes = await app.second_factor.enrol(auth.user, secret, step, replace=not first)
    if codes is None:
        codes = await checks.enrolled_meanwhile(request, auth, secret)
    # Listed before anything else can fail: Redis lost later must not allow a new enrolment.
    await asyncio.to_thread(app.enrolled.add, auth.user)
    await app.otp_throttle.succeeded(auth.user, client_ip(request))
    audit(request, "otp_enrolled", auth)
    return codes
