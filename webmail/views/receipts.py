"""Read receipts asked of us: the banner on the message, and "Envoyer l'accusé" / "Ignorer".

Never automatic. The receipt goes out like any mail: the trust space's rule for its
recipient (``recipient_trust.check_send``), the send ledger (its Message-ID is derived from
the original, so two clicks, two tabs or a retry send it once), then SMTP with the null
return path RFC 8098 asks for. Sent or ignored, the original gets ``$MDNSent``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from urllib.parse import quote, urlencode

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.errors import BadRequest, ServiceUnavailable, WebmailError
from webmail.i18n import N_
from webmail.mail import mailbox, mdn, smtp
from webmail.mail.compose import Draft
from webmail.mail.connections import MailSession
from webmail.mail.imap import ImapError
from webmail.mail.mailboxes import Rights
from webmail.mail.mime import ParsedMessage
from webmail.mail.outbox import State
from webmail.trust import recipients as trust
from webmail.trust.policy import OutsidePolicy
from webmail.views import recipient_trust
from webmail.views.common import (
    Authenticated,
    audit,
    folder_param,
    services,
    state_change,
    text_field,
    uid_param,
)
from webmail.views.shared_mailboxes import selected

log = logging.getLogger(__name__)

OUTSIDE_REFUSED = N_(
    "Cet accusé de lecture n'est pas parti : son destinataire est hors de l'espace de "
    "confiance MSSanté."
)
NOT_CONFIRMED = N_(
    "Cet accusé de lecture n'est pas parti : son destinataire est hors de l'espace de "
    "confiance MSSanté. Confirmez avec « Envoyer quand même »."
)
BUSY = N_("Cet accusé de lecture est déjà en cours d'envoi. Rechargez la page dans un instant.")


@dataclass(frozen=True)
class ReceiptOffer:
    """The banner: where the receipt would go, and what the user should know first."""

    addresses: list[str]
    return_path_differs: bool
    outside: list[str] = field(default_factory=list)  # outside the trust space
    refused: bool = False  # outside, and the deployment refuses: only "Ignorer"
    confirm: str = ""  # outside, and the deployment warns: "Envoyer quand même" carries it
    unavailable: bool = False  # a whitelist is configured but none is loaded


def reporter(session: MailSession, auth: Authenticated) -> str:
    """Who reports: the mailbox the message was read in."""
    return session.mailbox or auth.user


async def offer(
    request: Request,
    auth: Authenticated,
    session: MailSession,
    folder: str,
    uid: int,
    message: ParsedMessage,
    roles: dict[str, str],
    rights: Rights,
) -> ReceiptOffer | None:
    """The banner for this message, or None: nothing asked, already answered, a folder of
    ours (Sent, Drafts), or a mailbox where the answer cannot be recorded."""
    if not message.mdn_requested_by or folder in (roles.get("sent"), roles.get("drafts")):
        return None
    if not rights.flag:
        return None
    asked = mdn.requested(message, await _flags(session, uid))
    if asked is None:
        return None
    return await _with_trust(request, auth, session, folder, uid, message, asked)


async def _with_trust(
    request: Request,
    auth: Authenticated,
    session: MailSession,
    folder: str,
    uid: int,
    message: ParsedMessage,
    asked: mdn.ReceiptRequest,
) -> ReceiptOffer:
    app = services(request)
    plain = ReceiptOffer(asked.addresses, asked.return_path_differs)
    if app.trust is None:
        return plain
    whitelist = await app.trust.current()
    if whitelist is None:
        return ReceiptOffer(asked.addresses, asked.return_path_differs, unavailable=True)
    outside = trust.outside(whitelist, asked.addresses)
    if not outside:
        return plain
    if app.settings.trust.outside is OutsidePolicy.REFUSE:
        return ReceiptOffer(asked.addresses, asked.return_path_differs, outside, refused=True)
    message_id = _receipt_id(auth, session, folder, uid, message)
    token = trust.confirmation(
        app.settings.secret_key, auth.user, message_id, asked.addresses, outside
    )
    return ReceiptOffer(asked.addresses, asked.return_path_differs, outside, confirm=token)


async def answer(request: Request) -> Response:
    """POST from the banner: ``action`` is "send" or "ignore"."""
    auth, form = await state_change(request)
    folder = folder_param(text_field(form, "folder", limit=600))
    uid = uid_param(text_field(form, "uid", limit=20))
    action = text_field(form, "action", limit=10)
    if action not in ("send", "ignore"):
        raise BadRequest("Action inconnue.")
    from webmail.views.message import open_message  # the reader builds on this

    async with services(request).pool.use(auth.key, auth.user, auth.password) as session:
        folder = await selected(session, folder)
        message = (await open_message(session, folder, uid)).message
        asked = mdn.requested(message, await _flags(session, uid))
        if asked is not None and action == "send":
            confirmation = text_field(form, trust.CONFIRM_FIELD, limit=200)
            await _send(request, auth, session, folder, uid, message, asked, confirmation)
        if asked is not None:
            await _answered(session, folder, uid)
            audit(request, "mdn_" + ("sent" if action == "send" else "ignored"), auth, uid=uid)
    query = urlencode({"folder": folder, "uid": uid}, quote_via=quote)
    return RedirectResponse("/mail/message?" + query, status_code=303)


async def _send(
    request: Request,
    auth: Authenticated,
    session: MailSession,
    folder: str,
    uid: int,
    message: ParsedMessage,
    asked: mdn.ReceiptRequest,
    confirmation: str,
) -> None:
    from webmail.views.sending import longest_send, outbox, record_failure, record_quietly

    app = services(request)
    author = reporter(session, auth)
    message_id = _receipt_id(auth, session, folder, uid, message)
    held = await recipient_trust.check_send(
        request,
        auth,
        Draft(sender=author, message_id=message_id),
        asked.addresses,
        confirmation=confirmation,
        resend=False,
    )
    if held is not None:
        text = NOT_CONFIRMED if held.trust_confirm else OUTSIDE_REFUSED
        raise WebmailError(
            recipient_trust.UNAVAILABLE if held.status == 503 else text, status=held.status
        )
    ledger = outbox(request)
    try:
        seconds = longest_send(app.settings.smtp_timeouts, len(asked.addresses))
        claim = await ledger.claim(auth.user, message_id, seconds)
        if claim is None:
            record = await ledger.state(auth.user, message_id)
            if record is not None and record.state is State.SENT:
                return  # sent by an earlier click: only the keyword is missing
            raise WebmailError(BUSY, status=409)
    except RedisError as error:
        raise ServiceUnavailable(
            "Le service d'envoi est momentanément indisponible : rien n'a été envoyé. "
            "Réessayez dans quelques instants."
        ) from error
    receipt = mdn.build_receipt(
        message, author, asked.addresses, message_id, datetime.now().astimezone()
    )
    try:
        await _submit(request, auth, receipt, asked.addresses)
    except smtp.SmtpError as error:
        await record_failure(ledger, claim, error)
        audit(request, "mdn_sent", auth, result=type(error).__name__, uid=uid)
        raise WebmailError(error.message, status=502) from error
    await record_quietly(ledger.finish(claim, State.SENT))


async def _submit(
    request: Request, auth: Authenticated, receipt: EmailMessage, addresses: list[str]
) -> None:
    """SMTP with the null return path (RFC 8098 section 2.1: no report about a report);
    a server that refuses it at MAIL FROM gets the user's address instead (nothing has been
    transmitted yet, so this is no second send)."""
    app = services(request)
    login = app.settings.login_name(auth.user)

    async def attempt(sender: str) -> None:
        await smtp.send(
            app.settings.smtp,
            app.pool.ssl_context,
            sender,
            auth.password,
            receipt,
            addresses,
            app.settings.smtp_timeouts,
            login=login,
        )

    try:
        await attempt("")
    except smtp.SmtpRefused as refused:
        if refused.message != smtp.SENDER_REFUSED:
            raise
        log.info("null return path refused: the receipt goes with the user's address")
        await attempt(str(receipt["From"]))


async def _answered(session: MailSession, folder: str, uid: int) -> None:
    try:
        await session.imap.store_flags([uid], [mdn.MDN_SENT], add=True)
    except ImapError:
        log.warning("could not keep $MDNSent: the request may be asked again")
        return
    mailbox.update_cached_flags(session.cache, folder, uid, {mdn.MDN_SENT}, True)


async def _flags(session: MailSession, uid: int) -> frozenset[str]:
    for item in await session.imap.fetch([uid], "(UID FLAGS)"):
        flags = item.data.get("FLAGS")
        if item.uid == uid and isinstance(flags, list):
            return frozenset(
                flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)
                for flag in flags
            )
    return frozenset()


def _receipt_id(
    auth: Authenticated, session: MailSession, folder: str, uid: int, message: ParsedMessage
) -> str:
    validity = session.imap.selected.uidvalidity if session.imap.selected is not None else 0
    return mdn.receipt_id(
        auth.user, message, f"{folder}\x00{validity}\x00{uid}", reporter(session, auth)
    )
