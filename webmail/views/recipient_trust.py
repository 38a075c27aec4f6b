"""The trust space in the compose form: recipients marked while typing, checked at send time.

The check at send time is the one that counts: it runs on the server before the send is
claimed and before any SMTP, whatever the page did. ``refuse`` gives the form back with the
outside addresses named; ``warn`` gives it back once with a confirmation bound to the
recipients, and sends when that confirmation comes back for the same recipients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from webmail import i18n
from webmail.i18n import N_
from webmail.mail.compose import Draft
from webmail.templating import render
from webmail.trust import recipients as trust
from webmail.trust.policy import OutsidePolicy
from webmail.trust.whitelist import Whitelist
from webmail.views.common import Authenticated, audit, services, state_change, text_field
from webmail.views.compose import Outcome

UNAVAILABLE = N_(
    "La liste des messageries de l'espace de confiance MSSanté n'a pas pu être chargée : le "
    "message n'est pas parti. Réessayez plus tard ou prévenez le support de votre messagerie."
)


@dataclass(frozen=True)
class Marks:
    """What the form shows under the recipient fields."""

    checked: bool  # False: no whitelist configured, nobody is checked
    available: bool = True  # False: configured, but no list could be loaded
    outside: list[str] = field(default_factory=list)
    inside: int = 0
    confirm: str = ""  # warn mode, after a first Envoyer: the confirmation to send back
    resend: bool = False  # the confirmation continues a "Renvoyer quand même"


async def check_send(
    request: Request,
    auth: Authenticated,
    draft: Draft,
    recipients: list[str],
    *,
    confirmation: str,
    resend: bool,
) -> Outcome | None:
    """None when the send may go on; otherwise what to give back, nothing sent or claimed.

    ``resend``: the user pressed "Renvoyer quand même" after an unconfirmed send; the form
    given back keeps offering it (and the draft keeps its mark).
    """
    app = services(request)
    if app.trust is None:
        return None
    whitelist = await app.trust.current()
    if whitelist is None:
        _audit(request, auth, "unavailable", recipients, [])
        return Outcome(status=503, error=i18n._(UNAVAILABLE), unknown=resend)
    outside = trust.outside(whitelist, recipients)
    if not outside:
        return None
    addresses = ", ".join(outside)
    if app.settings.trust.outside is OutsidePolicy.REFUSE:
        _audit(request, auth, "refused", recipients, outside)
        error = i18n._(
            "Ces destinataires sont hors de l'espace de confiance MSSanté : {addresses}. Les "
            "données de santé ne peuvent être échangées qu'entre messageries de l'espace de "
            "confiance."
        ).format(addresses=addresses)
        return Outcome(status=422, error=error, unknown=resend)
    expected = _confirmation(request, auth, draft, recipients, outside)
    if trust.confirmed(confirmation, expected):
        _audit(request, auth, "confirmed", recipients, outside)
        return None
    _audit(request, auth, "warned", recipients, outside)
    warning = i18n._(
        "Ces destinataires sont hors de l'espace de confiance MSSanté : {addresses}. Les "
        "données de santé ne doivent être échangées qu'entre messageries de l'espace de "
        "confiance. Le message n'est pas parti : vérifiez les adresses, ou confirmez avec "
        "« Envoyer quand même »."
    ).format(addresses=addresses)
    return Outcome(status=409, error=warning, trust_confirm=expected, unknown=resend)


def _confirmation(
    request: Request, auth: Authenticated, draft: Draft, recipients: list[str], outside: list[str]
) -> str:
    secret = services(request).settings.secret_key
    return trust.confirmation(secret, auth.user, draft.message_id, recipients, outside)


def _audit(
    request: Request,
    auth: Authenticated,
    result: str,
    recipients: list[str],
    outside: list[str],
) -> None:
    # Counts only: the send's own line (message_sent) names the recipients when it goes out.
    audit(
        request,
        "message_outside_trust",
        auth,
        result=result,
        recipients=len(recipients),
        outside=len(outside),
    )


def marks(request: Request, draft: Draft, outcome: Outcome | None = None) -> Marks:
    """The marks for the form as rendered now, from the list already in force (a page is
    never held up by a look at the file)."""
    source = services(request).trust
    if source is None:
        return Marks(checked=False)
    typed = trust.addresses_in(draft.to, draft.cc, draft.bcc)
    return _marks(source.loaded, typed, outcome)


def _marks(whitelist: Whitelist | None, typed: list[str], outcome: Outcome | None) -> Marks:
    if whitelist is None:
        return Marks(checked=True, available=False)
    outside = trust.outside(whitelist, typed)
    return Marks(
        checked=True,
        outside=outside,
        inside=len(typed) - len(outside),
        confirm=outcome.trust_confirm if outcome else "",
        resend=bool(outcome and outcome.unknown),
    )


async def recipients_marked(request: Request) -> Response:
    """htmx, on a change of To, Cc or Bcc: the marks alone."""
    _auth, form = await state_change(request)
    source = services(request).trust
    if source is None:
        shown = Marks(checked=False)
    else:
        fields = (text_field(form, name, limit=5000) for name in ("to", "cc", "bcc"))
        shown = _marks(await source.current(), trust.addresses_in(*fields), None)
    return render(request, "partials/_recipient_trust.html", {"recipient_trust": shown})
