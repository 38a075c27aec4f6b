"""Sign-in with a CPS card that nginx verified: the card names the practitioner, the
mapping (a file, or the national directory) the mailboxes the card opens, and the mailbox
password is typed once for the IMAP server. No second factor follows: the card is one."""

from __future__ import annotations

import logging
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.auth.cps import CERT_HEADER, Card, CardUnreadable, CpsConfig, read_card
from webmail.directory.search import Query
from webmail.errors import NotFound
from webmail.i18n import N_
from webmail.security import csrf
from webmail.templating import render
from webmail.views.auth import LOGIN_COOKIE, login_again, password_refused, set_cookie
from webmail.views.common import (
    client_ip,
    read_form,
    services,
    session_cookie_name,
    text_field,
)

log = logging.getLogger(__name__)

NO_CARD = N_(
    "Aucune carte CPS vérifiée n'a été présentée. Insérez votre carte, fermez le navigateur, "
    "puis rouvrez cette page ; ou connectez-vous avec votre mot de passe."
)
UNREADABLE = N_("Votre carte CPS n'a pas pu être lue. Connectez-vous avec votre mot de passe.")
NO_MAILBOX = N_(
    "Votre carte CPS n'est associée à aucune messagerie de ce service. Connectez-vous avec "
    "votre adresse et votre mot de passe."
)
EXPIRED = N_("Le formulaire a expiré. Saisissez de nouveau votre mot de passe.")
MISSING_PASSWORD = N_("Saisissez le mot de passe de votre messagerie.")


def _config(request: Request) -> CpsConfig:
    config = services(request).settings.cps
    if config is None:
        raise NotFound("Cette page n'existe pas.")
    return config


def _card(request: Request, config: CpsConfig) -> Card | None:
    """The card nginx verified for this connection, None without one (the header reaches
    the app only from a trusted proxy, and only when nginx's verification succeeded)."""
    header = request.headers.get(CERT_HEADER)
    if header is None:
        return None
    return read_card(header, config.id_attribute)


async def _mailboxes(request: Request, config: CpsConfig, card: Card) -> tuple[str, ...]:
    if config.mapping is not None:
        return config.mapping.get(card.national_id, ())
    index = services(request).directory
    if index is None or not index.available():
        return ()
    entries = await index.search(Query(national_id=card.national_id, kind="PER"))
    return tuple(
        a.address.lower() for e in entries if e.national_id == card.national_id for a in e.addresses
    )


async def _signed_card(request: Request) -> tuple[Card, tuple[str, ...]] | Response:
    """The card and its mailboxes, or the login page saying why there are none."""
    config = _config(request)
    try:
        card = _card(request, config)
    except CardUnreadable as error:
        log.warning("CPS card unreadable: %s", error)
        services(request).audit.record(
            "cps_login", account="", client_ip=client_ip(request), result="refused",
            reason="card_unreadable",
        )  # fmt: skip
        return login_again(request, "", UNREADABLE, 400)
    if card is None:
        return login_again(request, "", NO_CARD, 401)
    mailboxes = await _mailboxes(request, config, card)
    if not mailboxes:
        services(request).audit.record(
            "cps_login", account="", client_ip=client_ip(request), result="refused",
            reason="no_mailbox", national_id=card.national_id, card_serial=card.serial,
        )  # fmt: skip
        return login_again(request, "", NO_MAILBOX, 403)
    return card, mailboxes


def _page(
    request: Request,
    card: Card,
    mailboxes: tuple[str, ...],
    *,
    chosen: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "pages/cps.html",
        {
            "card": card,
            "mailboxes": mailboxes,
            "chosen": chosen or mailboxes[0],
            "error": error,
            "login_token": token,
        },
        status_code=status,
    )
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600, path="/login")
    return response


async def form_page(request: Request) -> Response:
    found = await _signed_card(request)
    if isinstance(found, Response):
        return found
    return _page(request, *found)


async def sign_in(request: Request) -> Response:
    """The mailbox password, with the card still presented: then a complete session."""
    found = await _signed_card(request)
    if isinstance(found, Response):
        return found
    card, mailboxes = found
    form = await read_form(request)
    address = text_field(form, "address", limit=320).strip().lower()
    password = text_field(form, "password", limit=1024)
    token = text_field(form, "login_token", limit=100)
    if not csrf.same_origin(request) or not csrf.tokens_match(
        token, request.cookies.get(LOGIN_COOKIE, "")
    ):
        return _page(request, card, mailboxes, chosen=address, error=EXPIRED, status=403)
    if address not in mailboxes:
        # Only a mailbox the card opens: the form's choice is the user's, the list is not.
        return _page(request, card, mailboxes, error=NO_MAILBOX, status=403)
    if not password:
        return _page(request, card, mailboxes, chosen=address, error=MISSING_PASSWORD, status=400)

    def refused_page(error: str, status: int) -> Response:
        return _page(request, card, mailboxes, chosen=address, error=error, status=status)

    refused = await password_refused(request, address, password, refused_page)
    if refused is not None:
        return refused
    return await _open_session(request, card, address, password)


async def _open_session(request: Request, card: Card, address: str, password: str) -> Response:
    app = services(request)
    ip = client_ip(request)
    cookie, session = app.sessions.prepare(
        address, password, client_ip=ip, user_agent=request.headers.get("user-agent", "")
    )
    session.method = "cps"
    session.display_name = card.holder
    await app.sessions.add(session)
    app.audit.record(
        "login", account=address, client_ip=ip, session=session.id_hash, method="cps",
        national_id=card.national_id, card_serial=card.serial, card_issuer=card.issuer,
    )  # fmt: skip
    response = RedirectResponse("/mail", status_code=303)
    set_cookie(request, response, session_cookie_name(request), cookie.encode(), max_age=None)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response
