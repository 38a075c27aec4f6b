"""Sending a scheduled message once its claim is held, and filing it away.

Used by the process that scheduled it (``views/undo_send.py``) and by the recovery pass of
any instance (``views/undo_takeover.py``): the send, the outcome in the ledger, the note
when it did not leave, then the Sent copy, the draft removed and the original flagged
answered, on the session's IMAP connection.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage

from webmail.mail import drafts, smtp
from webmail.mail.compose import Draft
from webmail.mail.connections import MailSession
from webmail.mail.outbox import Claim, State
from webmail.mail.scheduled import Schedule
from webmail.views import sending
from webmail.views.common import Services
from webmail.views.compose import Origin, remove_draft, save_draft

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A scheduled send, as the process that sends it holds it."""

    app: Services
    account: str
    session_key: str  # the session's IMAP connection, for the Sent copy
    password: str  # the password or access token, in memory only
    draft: Draft
    origin: Origin
    message: EmailMessage
    recipients: list[str]
    client_ip: str


async def transmit(job: Job, store: Schedule, claim: Claim) -> None:
    """Send a scheduled message whose claim this process holds, and record the outcome."""
    try:
        await _transmit(job, store, claim)
    except Exception:  # never lose the trace of a send that may have left
        log.exception("scheduled send failed unexpectedly")


async def _transmit(job: Job, store: Schedule, claim: Claim) -> None:
    app, draft = job.app, job.draft
    try:
        result = await smtp.send(
            app.settings.smtp,
            app.pool.ssl_context,
            draft.author,
            job.password,
            job.message,
            job.recipients,
            app.settings.smtp_timeouts,
            login=app.settings.login_name(job.account),
        )
    except smtp.SmtpError as error:
        await sending.record_failure(store.outbox, claim, error)
        unknown = isinstance(error, smtp.SmtpOutcomeUnknown)  # flagged in Drafts instead
        await store.note_not_sent(job.account, draft.message_id, _reason(error), notify=not unknown)
        _audit(job, type(error).__name__)
        if unknown:
            await _after(job, lambda session: _flag_unknown(session, draft))
        return
    retry = sending.retry_draft(draft, result) if result.refused else None
    refused = {a: [str(r.code), r.text] for a, r in result.refused.items()}
    await sending.record_quietly(
        store.outbox.finish(
            claim, State.SENT, refused=refused, retry_id=retry.message_id if retry else ""
        )
    )
    _audit(job, "partial" if result.refused else "ok")
    await _after(job, lambda session: _file_away(session, job, retry))


async def _file_away(session: MailSession, job: Job, retry: Draft | None) -> None:
    await sending.keep_sent_copy(session, job.message)
    await remove_draft(session, job.draft.message_id)
    await sending.mark_answered(session, job.origin)
    if retry is not None:  # the refused addresses get a draft of their own
        await save_draft(session, retry)


async def _flag_unknown(session: MailSession, draft: Draft) -> None:
    await save_draft(session, draft, (*drafts.DRAFT_FLAGS, drafts.OUTCOME_UNKNOWN))


async def _after(job: Job, step: Callable[[MailSession], Awaitable[None]]) -> None:
    """IMAP work after the send (Sent copy, draft removed), on the session's connection."""
    try:
        async with job.app.pool.use(job.session_key, job.account, job.password) as session:
            await step(session)
    except Exception as error:
        log.warning("scheduled send: mailbox not updated: %r", error)


# The login refusal's own message (mail/smtp.py): the password changed during the delay.
_LOGIN_REFUSED = "Le serveur d'envoi a refusé l'identification."


def _reason(error: smtp.SmtpError) -> str:
    if isinstance(error, smtp.SmtpOutcomeUnknown):
        return "unknown"
    if isinstance(error, smtp.SmtpUnavailable | smtp.SmtpDeferred):
        return "unavailable"
    if isinstance(error, smtp.SmtpTokenRefused) or error.message == _LOGIN_REFUSED:
        return "credential"
    return "refused"


def _audit(job: Job, result: str) -> None:
    job.app.audit.record(
        "message_sent",
        account=job.account,
        client_ip=job.client_ip,
        session=job.session_key,
        result=result,
        recipients=job.recipients,
        sender=job.draft.author,
        scheduled=True,
    )
