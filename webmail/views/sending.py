"""Sending a message at most once, and saying plainly what happened.

The form's Message-ID is claimed in Redis before SMTP is touched (``mail/outbox.py``): a
double click, a browser retry or a second tab finds the claim and never sends again. When
the server took the whole message but never answered, the message may be out: it is kept
in Drafts marked as uncertain, and only the explicit "Renvoyer quand même" sends it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from email.message import EmailMessage

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.mail import compose, drafts, smtp
from webmail.mail.compose import Draft, InvalidDraft
from webmail.mail.connections import MailSession
from webmail.mail.imap import ImapError
from webmail.mail.outbox import Claim, Outbox, Record, State
from webmail.urls import mail_url
from webmail.views.common import Authenticated, audit, services
from webmail.views.compose import (
    Kept,
    Origin,
    Outcome,
    _role_folder,
    form_page,
    remove_draft,
    save_draft,
)

log = logging.getLogger(__name__)

RESEND = "resend"  # the action of the "Renvoyer quand même" button


def outbox(request: Request) -> Outbox:
    app = services(request)
    timeouts = app.settings.smtp_timeouts
    # The longest a send can take: connection, TLS, AUTH, MAIL, RCPTs, DATA, then the dot.
    return Outbox(app.sessions.redis, 10 * timeouts.command + timeouts.data_end + 30)


async def already_sent(request: Request, auth: Authenticated, draft: Draft) -> bool:
    try:
        record = await outbox(request).state(auth.user, draft.message_id)
    except RedisError:
        return False  # saving a draft too many is the lesser harm
    return record is not None and record.state is State.SENT


async def send(
    request: Request,
    auth: Authenticated,
    session: MailSession,
    draft: Draft,
    origin: Origin,
    *,
    action: str,
) -> Response:
    try:
        recipients = compose.all_recipients(draft)
        message = compose.build_message(draft)
    except InvalidDraft as error:
        return await _give_back(
            request, session, draft, origin, Outcome(error=str(error), status=400)
        )
    ledger = outbox(request)
    try:
        if action == RESEND:
            claim = await ledger.claim_resend(auth.user, draft.message_id)
        else:
            claim = await ledger.claim(auth.user, draft.message_id)
        if claim is None:
            return await _claimed_elsewhere(request, session, draft, origin, ledger, auth)
    except RedisError:
        log.error("send ledger unavailable: nothing sent")
        return await _give_back(
            request,
            session,
            draft,
            origin,
            Outcome(
                status=503,
                error=i18n._(
                    "Le service d'envoi est momentanément indisponible : rien n'a été envoyé. "
                    "Réessayez dans quelques instants."
                ),
            ),
        )
    return await _transmit(request, auth, session, draft, origin, message, recipients, claim)


async def _transmit(
    request: Request,
    auth: Authenticated,
    session: MailSession,
    draft: Draft,
    origin: Origin,
    message: EmailMessage,
    recipients: list[str],
    claim: Claim,
) -> Response:
    app = services(request)
    ledger = outbox(request)
    try:
        result = await smtp.send(
            app.settings.smtp,
            app.pool.ssl_context,
            auth.user,
            auth.password,
            message,
            recipients,
            app.settings.smtp_timeouts,
        )
    except smtp.SmtpError as error:
        await _record_failure(ledger, claim, error)
        _audit_failure(request, auth, recipients, error, claim)
        return await _give_back(request, session, draft, origin, _failure_outcome(error))
    retry = _retry_draft(draft, result) if result.refused else None
    await _record(
        ledger.finish(
            claim,
            State.SENT,
            refused={a: [str(r.code), r.text] for a, r in result.refused.items()},
            retry_id=retry.message_id if retry else "",
        )
    )
    audit(
        request,
        "message_sent",
        auth,
        result="partial" if result.refused else "ok",
        recipients=recipients,
        refused=sorted(result.refused),
        confirmed_resend=claim.resend,
    )
    copied = await _keep_sent_copy(session, message)
    removed = await remove_draft(session, draft.message_id)
    await _mark_answered(session, origin)
    if retry is not None:
        return await _offer_retry(request, session, retry, _refusals(result.refused))
    return RedirectResponse(
        mail_url("INBOX", notice=_sent_notice(copied, removed)), status_code=303
    )


def _sent_notice(copied: bool, removed: bool) -> str:
    """The mailbox page's notice: success, and what could not be kept or removed."""
    return "sent" + ("" if copied else "-nocopy") + ("" if removed else "-draft")


async def _record(awaitable: Awaitable[None]) -> None:
    """A ledger write after the send: if Redis fails now, the claim stays "sending" and a
    later submission is treated as unknown, never sent again silently."""
    try:
        await awaitable
    except RedisError:
        log.error("send ledger unavailable after sending")


async def _record_failure(ledger: Outbox, claim: Claim, error: smtp.SmtpError) -> None:
    if isinstance(error, smtp.SmtpOutcomeUnknown):
        await _record(ledger.finish(claim, State.UNKNOWN))
    else:
        await _record(ledger.release(claim))


def _audit_failure(
    request: Request,
    auth: Authenticated,
    recipients: list[str],
    error: smtp.SmtpError,
    claim: Claim,
) -> None:
    log.warning("send failed: %s", type(error).__name__)
    audit(
        request,
        "message_sent",
        auth,
        result=type(error).__name__,
        recipients=recipients,
        answer=error.detail[:300],
        confirmed_resend=claim.resend,
    )


def _failure_outcome(error: smtp.SmtpError) -> Outcome:
    unknown = isinstance(error, smtp.SmtpOutcomeUnknown)
    if unknown:
        status = 504
    elif isinstance(error, smtp.SmtpUnavailable | smtp.SmtpDeferred):
        status = 503
    else:
        status = 422
    return Outcome(
        status=status,
        error=i18n._(error.message),
        server_reply=str(error.reply) if error.reply else "",
        refused=_refusals(error.refused),
        unknown=unknown,
    )


def _refusals(refused: dict[str, smtp.ServerReply]) -> list[tuple[str, str, bool]]:
    return [(address, str(reply), reply.temporary) for address, reply in refused.items()]


async def _give_back(
    request: Request, session: MailSession, draft: Draft, origin: Origin, outcome: Outcome
) -> Response:
    """The form again, with the files kept in the one Drafts copy of the message."""
    flags = drafts.DRAFT_FLAGS + ((drafts.OUTCOME_UNKNOWN,) if outcome.unknown else ())
    kept = await save_draft(session, draft, flags)
    note = (
        i18n._(" Une copie est dans vos brouillons.")
        if kept is not None
        else i18n._(" Aucune copie n'a pu être gardée dans vos brouillons.")
    )
    outcome.error = (outcome.error or "") + note
    outcome.files_lost = kept is None and bool(draft.attachments)
    return form_page(request, draft, origin, kept or Kept(), outcome)


async def _claimed_elsewhere(
    request: Request,
    session: MailSession,
    draft: Draft,
    origin: Origin,
    ledger: Outbox,
    auth: Authenticated,
) -> Response:
    """Another request holds this message: wait for it, then show what it did."""
    record = await ledger.settle(auth.user, draft.message_id, ledger.sending_seconds)
    if record is not None and record.state is State.SENT:
        if record.retry_id:
            retry = replace(draft, to=", ".join(record.refused), cc="", bcc="")
            retry.message_id = record.retry_id
            return await _offer_retry(request, session, retry, _recorded_refusals(record))
        return RedirectResponse(mail_url("INBOX", notice="already-sent"), status_code=303)
    if record is None:
        error = i18n._(
            "Un autre envoi de ce message vient d'échouer : rien n'a été envoyé. "
            "Vous pouvez réessayer."
        )
        return await _give_back(request, session, draft, origin, Outcome(error=error, status=409))
    return await _give_back(
        request,
        session,
        draft,
        origin,
        Outcome(
            status=409,
            unknown=True,
            error=i18n._(
                "L'envoi de ce message n'a pas été confirmé par le serveur : il est peut-être "
                "déjà parti. Il n'a pas été renvoyé. Pour l'envoyer malgré tout, utilisez "
                "« Renvoyer quand même »."
            ),
        ),
    )


def _recorded_refusals(record: Record) -> list[tuple[str, str, bool]]:
    replies = {
        address: smtp.ServerReply(int(parts[0]) if parts and parts[0].isdigit() else 0, parts[-1])
        for address, parts in record.refused.items()
    }
    return _refusals(replies)


def _retry_draft(draft: Draft, result: smtp.SendResult) -> Draft:
    # A new message for the refused addresses only: the others already have it.
    return replace(
        draft,
        to=", ".join(result.refused),
        cc="",
        bcc="",
        message_id=compose.new_message_id(draft.sender),
    )


async def _offer_retry(
    request: Request,
    session: MailSession,
    retry: Draft,
    refused: list[tuple[str, str, bool]],
) -> Response:
    kept = await save_draft(session, retry)
    temporary = any(temp for _address, _answer, temp in refused)
    warning = i18n._(
        "Message envoyé aux autres destinataires, mais refusé pour les adresses ci-dessous. "
        "Corrigez-les pour le leur renvoyer."
    )
    if temporary:
        warning += i18n._(" Pour les refus temporaires, réessayez plus tard.")
    return form_page(
        request,
        retry,
        Origin(),
        kept or Kept(),
        Outcome(
            warning=warning, refused=refused, files_lost=kept is None and bool(retry.attachments)
        ),
    )


async def _keep_sent_copy(session: MailSession, message: EmailMessage) -> bool:
    try:
        sent = await _role_folder(session, "sent", "Sent")
        await session.imap.append(sent, message.as_bytes(), ["\\Seen"])
        session.cache.forget(sent)
        return True
    except ImapError as error:
        log.warning("message sent but no copy kept in Sent: %r", error)
        return False


async def _mark_answered(session: MailSession, origin: Origin) -> None:
    if origin.mode not in ("reply", "replyall") or origin.uid is None:
        return
    try:
        await session.imap.ensure_selected(origin.folder)
        await session.imap.store_flags([origin.uid], ["\\Answered"], add=True)
    except ImapError:
        log.info("could not flag the original as answered")
