"""Undo send: after Envoyer, the message waits a few seconds, and can be taken back.

The message is first saved in Drafts, then scheduled in the send ledger
(``mail/scheduled.py``), and the page says "Envoi dans 10 s — Annuler". This process
sends it when the delay is over (``views/undo_transmit.py``), from a task of its own:
closing the browser changes nothing. Cancelling (from any instance) is one
compare-and-set in the ledger; so is the send's own claim, so the message leaves at most
once, and a cancel that comes too late says so.

The credentials a send needs (the IMAP/SMTP password, or the Pro Santé Connect tokens)
are otherwise sealed with a key only the session cookie carries. So that the message
still leaves if this process dies during the delay, the send (its credential and the
exact bytes) is also sealed with the server's key (``mail/send_seal.py``) in the ledger,
for the delay and a grace period only; the recovery pass of any instance
(``views/undo_takeover.py``) then takes it over and sends it, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from urllib.parse import urlencode

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail import i18n
from webmail.auth import psc_tokens
from webmail.errors import BadRequest
from webmail.i18n import N_
from webmail.mail import compose, drafts
from webmail.mail.compose import Draft
from webmail.mail.outbox import Outbox, State
from webmail.mail.scheduled import Cancel, Schedule, Scheduled
from webmail.mail.send_seal import Credential, SealedSend, SendSeal
from webmail.templating import render
from webmail.urls import mail_url
from webmail.views import sending, shared_mailboxes
from webmail.views.common import (
    Authenticated,
    Services,
    audit,
    authenticated,
    client_ip,
    services,
    state_change,
)
from webmail.views.common import text_field as field
from webmail.views.compose import (
    Outcome,
    form_page,
    kept_from,
    noted_origin,
    role_folder,
    save_draft,
)
from webmail.views.drafts_open import continued
from webmail.views.undo_transmit import Job, transmit

log = logging.getLogger(__name__)


def schedule_store(app: Services) -> Schedule:
    ledger = Outbox(app.sessions.redis, sending.longest_send(app.settings.smtp_timeouts, 1))
    return Schedule(app.sessions.redis, ledger, app.settings.undo_send)


@functools.cache
def _sealer(secret_key: str) -> SendSeal:
    return SendSeal(secret_key)


def send_seal(app: Services) -> SendSeal:
    return _sealer(app.settings.secret_key)


def undo_url(message_id: str) -> str:
    return "/compose/undo?" + urlencode({"message_id": message_id})


async def schedule(
    attempt: sending.Attempt, message: EmailMessage, recipients: list[str]
) -> Response | None:
    """Keep the message in Drafts and schedule it; None to send it at once (no delay set,
    or no safe copy in Drafts to come back to)."""
    app = services(attempt.request)
    delay = app.settings.undo_send.seconds
    if delay <= 0 or await save_draft(attempt.session, attempt.draft) is None:
        return None
    store = schedule_store(app)
    job = Job(
        app,
        attempt.auth.user,
        attempt.auth.key,
        attempt.auth.password,
        attempt.draft,
        attempt.origin,
        message,
        recipients,
        client_ip(attempt.request),
    )
    sealed = _sealed(app, store, job, _credential(app, attempt.auth))
    scheduled = await store.schedule(job.account, job.draft.message_id, delay, sealed)
    if scheduled is None:
        return None  # the ledger knows it: the usual claim says what to do
    _start(attempt.request, job, scheduled)
    return RedirectResponse(undo_url(attempt.draft.message_id), status_code=303)


def _credential(app: Services, auth: Authenticated) -> Credential:
    if auth.session.method != "psc":
        return Credential("password", auth.password)
    tokens = psc_tokens.unseal(app.sessions, auth.session, auth.cookie)
    if tokens is None or tokens.access_token != auth.password:
        return Credential("psc", auth.password)  # no refresh: usable while it lives
    return Credential(
        "psc", auth.password, tokens.refresh_token, tokens.id_token, tokens.expires_at
    )


def _sealed(app: Services, store: Schedule, job: Job, credential: Credential) -> str:
    draft, origin = job.draft, job.origin
    send = SealedSend(
        account=job.account,
        message_id=draft.message_id,
        credential=credential,
        message=job.message.as_bytes(),
        recipients=job.recipients,
        author=draft.author,
        session_key=job.session_key,
        mailbox=draft.mailbox,
        from_name=draft.from_name,
        origin={"mode": origin.mode, "folder": origin.folder, "uid": origin.uid},
        client_ip=job.client_ip,
    )
    return send_seal(app).seal(send, store.context(job.account, draft.message_id))


def _start(request: Request, job: Job, scheduled: Scheduled) -> None:
    tasks: set[asyncio.Task[None]] = request.app.state.scheduled_sends
    task = asyncio.create_task(_send_when_due(job, scheduled))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _send_when_due(job: Job, scheduled: Scheduled) -> None:
    await asyncio.sleep(max(0.0, scheduled.due - time.time()))
    store = schedule_store(job.app)
    seconds = sending.longest_send(job.app.settings.smtp_timeouts, len(job.recipients))
    try:
        claim = await store.take(scheduled, seconds)
    except RedisError:
        log.error("send ledger unavailable at a scheduled send: left to the recovery pass")
        return  # still scheduled: the recovery pass takes it over
    if claim is None:
        return  # cancelled, or taken over
    await transmit(job, store, claim)


# -- the pages: waiting, cancelled, too late -----------------------------------------------

REASONS = {
    "": N_(
        "Le message n'est pas parti : l'application a redémarré pendant le délai "
        "d'annulation. Il est dans vos brouillons : ouvrez-le et envoyez-le de nouveau."
    ),
    "unavailable": N_(
        "Le message n'est pas parti : le serveur d'envoi était injoignable ou l'a refusé "
        "temporairement. Il est dans vos brouillons : réessayez plus tard."
    ),
    "refused": N_(
        "Le message n'est pas parti : le serveur d'envoi l'a refusé. Il est dans vos "
        "brouillons : vérifiez les destinataires et les pièces jointes."
    ),
    "credential": N_(
        "Le message n'est pas parti : l'application a redémarré pendant le délai "
        "d'annulation et votre identification n'était plus valable. Il est dans vos "
        "brouillons : ouvrez-le et envoyez-le de nouveau."
    ),
    "unknown": N_(
        "Le serveur d'envoi n'a pas confirmé la réception : le message est peut-être parti. "
        "Il est dans vos brouillons, marqué « Envoi incertain »."
    ),
}
TOO_LATE = N_("Trop tard : le message est parti.")
LOST = N_(
    "Un message dont vous aviez demandé l'envoi n'est pas parti : il est dans vos "
    "brouillons. Ouvrez-le pour l'envoyer de nouveau."
)


async def lost_sends_warning(auth: Authenticated, app: Services) -> str | None:
    """For the mailbox page, once: scheduled sends that did not leave since last seen."""
    try:
        lost = await schedule_store(app).pop_notices(auth.user)
    except RedisError:
        return None
    return LOST if lost else None


async def waiting_page(request: Request) -> Response:
    """ "Envoi dans 10 s — Annuler" while scheduled; afterwards, what became of it."""
    auth = await authenticated(request)
    message_id = _message_id(request.query_params.get("message_id", ""), auth)
    store = schedule_store(services(request))
    record = await store.outbox.state(auth.user, message_id)
    if record is not None and record.state is State.SENDING:
        record = await store.outbox.settle(auth.user, message_id, 15.0)
    if record is None:
        reason = await store.not_sent(auth.user, message_id)
        if reason is None:  # cancelled, or long gone
            return RedirectResponse(mail_url("INBOX"), status_code=303)
        shown = REASONS.get(reason, REASONS[""])
        return _page(request, "not-sent", message_id, error=i18n._(shown))
    if record.state is State.SCHEDULED:
        due = max(0, round(record.deadline - store.config.grace_seconds - time.time()))
        return _page(request, "scheduled", message_id, seconds=due)
    if record.state is State.SENT and record.refused:
        refused = i18n._(
            "Message envoyé, mais refusé pour : {addresses}. Un brouillon pour ces adresses "
            "est dans vos brouillons."
        ).format(addresses=", ".join(sorted(record.refused)))
        return _page(request, "refused", message_id, error=refused)
    if record.state is State.SENT:
        return RedirectResponse(mail_url("INBOX", notice="sent"), status_code=303)
    return _page(request, "not-sent", message_id, error=i18n._(REASONS["unknown"]))


async def cancel(request: Request) -> Response:
    auth, form = await state_change(request)
    message_id = _message_id(field(form, "message_id", limit=200), auth)
    outcome = await schedule_store(services(request)).cancel(auth.user, message_id)
    if outcome is Cancel.TOO_LATE:
        return _page(request, "too-late", message_id, error=i18n._(TOO_LATE), status=409)
    if outcome is Cancel.UNKNOWN:
        return RedirectResponse(undo_url(message_id), status_code=303)
    audit(request, "message_send_cancelled", auth)
    return await _back_to_editor(request, auth, message_id)


async def _back_to_editor(request: Request, auth: Authenticated, message_id: str) -> Response:
    """The editor with everything, read back from the Drafts copy saved before the delay."""
    writer = Draft(sender=auth.user)
    app = services(request)
    async with app.pool.use(auth.key, auth.user, auth.password) as session:
        await shared_mailboxes.offer_senders(request, session, writer)
        raw = await drafts.latest(session.imap, await role_folder(session, "drafts"), message_id)
    if raw is None:
        error = i18n._("Envoi annulé, mais le brouillon n'a plus été retrouvé dans vos brouillons.")
        return _page(request, "cancelled", message_id, error=error, status=404)
    draft = continued(raw, writer)
    draft.message_id = message_id
    outcome = Outcome(
        warning=i18n._("Envoi annulé : rien n'est parti. Le message est de nouveau modifiable.")
    )
    return form_page(request, draft, noted_origin(draft.answers), kept_from(raw, "draft"), outcome)


def _page(
    request: Request,
    state: str,
    message_id: str,
    *,
    seconds: int = 0,
    error: str = "",
    status: int = 200,
) -> Response:
    context = {"state": state, "message_id": message_id, "seconds": seconds, "error": error}
    return render(request, "partials/_undo_send_page.html", {**context, "folder": None}, status)


def _message_id(value: str, auth: Authenticated) -> str:
    if not compose.valid_message_id(value, auth.user):
        raise BadRequest("Message inconnu.")
    return value


# -- the recovery pass (views/undo_takeover.py) ----------------------------------------


@contextlib.asynccontextmanager
async def running(app: Services) -> AsyncIterator[set[asyncio.Task[None]]]:
    """For the app's lifespan: the set of this process's scheduled sends, and the recovery
    pass over every instance's, for as long as the app runs."""
    from webmail.views import undo_takeover  # it sends through this module

    tasks: set[asyncio.Task[None]] = set()
    recovery = asyncio.create_task(undo_takeover.recover_forever(app))
    try:
        yield tasks
    finally:
        # Stopping: what was pending stays scheduled, with its sealed send; the recovery
        # pass of another instance, or of this one once restarted, sends it.
        for task in (recovery, *tasks):
            task.cancel()
        # Bounded: a task whose cancellation is not delivered (seen under anyio's test
        # portal) must not hold the shutdown.
        await asyncio.wait({recovery, *tasks}, timeout=SHUTDOWN_WAIT_SECONDS)


SHUTDOWN_WAIT_SECONDS = 2.0
