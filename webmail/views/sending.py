"""Sending a message at most once, and saying plainly what happened.

The form's Message-ID is claimed in Redis before SMTP is touched (``mail/outbox.py``): a
double click, a browser retry or a second tab finds the claim and never sends again. When
the server took the whole message but never answered, the message may be out: it is kept
in Drafts marked as uncertain, and only the explicit "Renvoyer quand même" sends it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from email.message import EmailMessage
from typing import Any

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.mail import compose, drafts, smtp
from webmail.mail.compose import Draft, InvalidDraft
from webmail.mail.connections import MailSession
from webmail.mail.imap import ImapError
from webmail.mail.outbox import Claim, Outbox, Record, State
from webmail.mail.special_folders import FolderUnavailable
from webmail.settings import SmtpTimeouts
from webmail.urls import mail_url
from webmail.views import recipient_trust
from webmail.views.common import Authenticated, audit, services
from webmail.views.compose import (
    Kept,
    Origin,
    Outcome,
    connected,
    form_page,
    remove_draft,
    role_folder,
    save_draft,
)

log = logging.getLogger(__name__)

RESEND = "resend"  # the action of the "Renvoyer quand même" button


def outbox(request: Request) -> Outbox:
    # A claim of unknown size (a record of an earlier version) gets the bound for a single
    # recipient; each claim records its own.
    return Outbox(services(request).sessions.redis, _longest_send(request, 1))


def _longest_send(request: Request, recipients: int) -> float:
    return longest_send(services(request).settings.smtp_timeouts, recipients)


def longest_send(timeouts: SmtpTimeouts, recipients: int) -> float:
    """The longest a send can take: connection, greeting, EHLO, STARTTLS, EHLO, AUTH, MAIL,
    one RCPT per recipient, DATA (each with its command timeout), then the message written
    and the reply to the final dot (each with the data timeout), and a margin."""
    return (8 + recipients) * timeouts.command + 2 * timeouts.data_end + 30


@dataclass
class Attempt:
    """One submission of the compose form, and what it needs to answer."""

    request: Request
    auth: Authenticated
    session: MailSession
    draft: Draft
    origin: Origin
    kept: Kept  # the files re-attached from the server, as the form listed them
    trust_confirm: str = ""  # the user's confirmation of recipients outside the trust space


async def already_sent(request: Request, auth: Authenticated, draft: Draft) -> bool:
    try:
        record = await outbox(request).state(auth.user, draft.message_id)
    except RedisError:
        return False  # saving a draft too many is the lesser harm
    return record is not None and record.state is State.SENT


async def send(attempt: Attempt, *, action: str) -> Response:
    from webmail.views import undo_send  # it sends through this module

    draft = attempt.draft
    try:
        recipients = compose.all_recipients(draft)
        message = compose.build_message(draft)
    except InvalidDraft as error:
        return await _give_back(attempt, Outcome(error=str(error), status=400))
    held = await recipient_trust.check_send(
        attempt.request,
        attempt.auth,
        draft,
        recipients,
        confirmation=attempt.trust_confirm,
        resend=action == RESEND,
    )
    if held is not None:  # outside the trust space: nothing claimed, nothing sent
        return await _give_back(attempt, held)
    ledger = outbox(attempt.request)
    seconds = _longest_send(attempt.request, len(recipients))
    try:
        if action == RESEND:
            claim = await ledger.claim_resend(attempt.auth.user, draft.message_id, seconds)
        elif delayed := await undo_send.schedule(attempt, message, recipients):
            return delayed  # "Envoi dans 10 s — Annuler" (views/undo_send.py)
        else:
            claim = await ledger.claim(attempt.auth.user, draft.message_id, seconds)
    except RedisError:
        log.error("send ledger unavailable: nothing sent")
        unavailable = i18n._(
            "Le service d'envoi est momentanément indisponible : rien n'a été envoyé. "
            "Réessayez dans quelques instants."
        )
        return await _give_back(attempt, Outcome(status=503, error=unavailable))
    if claim is None:
        return await _claimed_elsewhere(attempt, ledger)
    return await _transmit(attempt, ledger, claim, message, recipients)


async def _transmit(
    attempt: Attempt,
    ledger: Outbox,
    claim: Claim,
    message: EmailMessage,
    recipients: list[str],
) -> Response:
    app = services(attempt.request)
    try:
        result = await smtp.send(
            app.settings.smtp,
            app.pool.ssl_context,
            attempt.draft.author,  # an organisational mailbox's address: its bounces go there
            attempt.auth.password,
            message,
            recipients,
            app.settings.smtp_timeouts,
            login=app.settings.login_name(attempt.auth.user),
        )
    except smtp.SmtpError as error:
        await record_failure(ledger, claim, error)
        _audit(attempt, recipients, claim, type(error).__name__, answer=error.detail[:300])
        return await _give_back(attempt, _failure_outcome(error))
    retry = retry_draft(attempt.draft, result) if result.refused else None
    await record_quietly(
        ledger.finish(
            claim,
            State.SENT,
            refused={a: [str(r.code), r.text] for a, r in result.refused.items()},
            retry_id=retry.message_id if retry else "",
        )
    )
    outcome = "partial" if result.refused else "ok"
    _audit(attempt, recipients, claim, outcome, refused=sorted(result.refused))
    missing = await keep_sent_copy(attempt.session, message)
    removed = await remove_draft(attempt.session, attempt.draft.message_id)
    await mark_answered(attempt.session, attempt.origin)
    if retry is not None:
        return await _offer_retry(attempt, retry, _refusals(result.refused))
    notice = _sent_notice(missing, removed)
    return RedirectResponse(mail_url("INBOX", notice=notice), status_code=303)


def _audit(
    attempt: Attempt, recipients: list[str], claim: Claim, result: str, **details: Any
) -> None:
    if result not in ("ok", "partial"):
        log.warning("send failed: %s", result)
    audit(
        attempt.request,
        "message_sent",
        attempt.auth,
        result=result,
        recipients=recipients,
        sender=attempt.draft.author,
        confirmed_resend=claim.resend,
        **details,
    )


def _sent_notice(missing: str, removed: bool) -> str:
    """The mailbox page's notice: success, and what could not be kept or removed."""
    if missing == "nofolder" and removed:
        return "sent-nofolder"  # the one case worth its own explanation
    return "sent" + ("-nocopy" if missing else "") + ("" if removed else "-draft")


async def record_quietly(awaitable: Awaitable[None]) -> None:
    """A ledger write after the send: if Redis fails now, the claim stays "sending" and a
    later submission is treated as unknown, never sent again silently."""
    try:
        await awaitable
    except RedisError:
        log.error("send ledger unavailable after sending")


async def record_failure(ledger: Outbox, claim: Claim, error: smtp.SmtpError) -> None:
    if isinstance(error, smtp.SmtpOutcomeUnknown):
        await record_quietly(ledger.finish(claim, State.UNKNOWN))
    else:
        await record_quietly(ledger.release(claim))


def _failure_outcome(error: smtp.SmtpError) -> Outcome:
    unknown = isinstance(error, smtp.SmtpOutcomeUnknown)
    if unknown:
        status = 504
    elif isinstance(error, smtp.SmtpUnavailable | smtp.SmtpDeferred):
        status = 503
    elif isinstance(error, smtp.SmtpTokenRefused):
        status = 401
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


async def _give_back(attempt: Attempt, outcome: Outcome) -> Response:
    """The form again, with the files kept in the one Drafts copy of the message. When
    that copy cannot be saved, the files kept before (the original, the older draft) are
    still offered; only new uploads are lost, and the form says so."""
    draft = attempt.draft
    flags = drafts.DRAFT_FLAGS + ((drafts.OUTCOME_UNKNOWN,) if outcome.unknown else ())
    saved = await save_draft(attempt.session, draft, flags)
    note = (
        i18n._(" Une copie est dans vos brouillons.")
        if saved is not None
        else i18n._(" Aucune copie n'a pu être gardée dans vos brouillons.")
    )
    outcome.error = (outcome.error or "") + note
    outcome.files_lost = saved is None and len(draft.attachments) > attempt.kept.attached
    return form_page(attempt.request, draft, attempt.origin, saved or attempt.kept, outcome)


async def _claimed_elsewhere(attempt: Attempt, ledger: Outbox) -> Response:
    """Another request holds this message: wait for it, then show what it did."""
    from webmail.views import undo_send  # it sends through this module

    draft = attempt.draft
    record = await ledger.settle(attempt.auth.user, draft.message_id, ledger.sending_seconds)
    if record is not None and record.state is State.SCHEDULED:
        return RedirectResponse(undo_send.undo_url(draft.message_id), status_code=303)
    if record is not None and record.state is State.SENT:
        if record.retry_id:
            retry = replace(draft, to=", ".join(record.refused), cc="", bcc="")
            retry.message_id = record.retry_id
            return await _offer_retry(attempt, retry, _recorded_refusals(record))
        return RedirectResponse(mail_url("INBOX", notice="already-sent"), status_code=303)
    if record is None:
        error = i18n._(
            "Un autre envoi de ce message vient d'échouer : rien n'a été envoyé. "
            "Vous pouvez réessayer."
        )
        return await _give_back(attempt, Outcome(error=error, status=409))
    error = i18n._(
        "L'envoi de ce message n'a pas été confirmé par le serveur : il est peut-être "
        "déjà parti. Il n'a pas été renvoyé. Pour l'envoyer malgré tout, utilisez "
        "« Renvoyer quand même »."
    )
    return await _give_back(attempt, Outcome(status=409, unknown=True, error=error))


def _recorded_refusals(record: Record) -> list[tuple[str, str, bool]]:
    replies = {
        address: smtp.ServerReply(int(parts[0]) if parts and parts[0].isdigit() else 0, parts[-1])
        for address, parts in record.refused.items()
    }
    return _refusals(replies)


def retry_draft(draft: Draft, result: smtp.SendResult) -> Draft:
    # A new message for the refused addresses only: the others already have it.
    return replace(
        draft,
        to=", ".join(result.refused),
        cc="",
        bcc="",
        message_id=compose.new_message_id(draft.sender),
    )


async def _offer_retry(
    attempt: Attempt, retry: Draft, refused: list[tuple[str, str, bool]]
) -> Response:
    kept = await save_draft(attempt.session, retry)
    warning = i18n._(
        "Message envoyé aux autres destinataires, mais refusé pour les adresses ci-dessous. "
        "Corrigez-les pour le leur renvoyer."
    )
    if any(temporary for _address, _answer, temporary in refused):
        warning += i18n._(" Pour les refus temporaires, réessayez plus tard.")
    files_lost = kept is None and bool(retry.attachments)
    outcome = Outcome(warning=warning, refused=refused, files_lost=files_lost)
    return form_page(attempt.request, retry, Origin(), kept or Kept(), outcome)


async def keep_sent_copy(session: MailSession, message: EmailMessage) -> str:
    """Files the sent message in Sent; what went missing: "" (nothing), "nocopy" or
    "nofolder" (no Sent folder, and the server refuses to create one)."""
    if not connected(session):
        return "nocopy"
    try:
        sent = await role_folder(session, "sent")
        await session.imap.append(sent, message.as_bytes(), ["\\Seen"])
        session.cache.forget(sent)
        return ""
    except FolderUnavailable:
        log.warning("message sent; no Sent folder and the server refuses to create one")
        return "nofolder"
    except ImapError as error:
        log.warning("message sent but no copy kept in Sent: %r", error)
        return "nocopy"


async def mark_answered(session: MailSession, origin: Origin) -> None:
    if origin.mode not in ("reply", "replyall") or origin.uid is None or not connected(session):
        return
    try:
        await session.imap.ensure_selected(origin.folder)
        await session.imap.store_flags([origin.uid], ["\\Answered"], add=True)
    except ImapError:
        log.info("could not flag the original as answered")
