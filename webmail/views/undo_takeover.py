"""The recovery pass: scheduled sends whose process died are sent by another instance.

Every instance looks, every few seconds, for scheduled sends past their due time
(``mail/scheduled.py``). Taking one over is the same compare-and-set as its own process's
(``scheduled`` -> ``sending``), which also hands over, and deletes, its sealed send
(``mail/send_seal.py``): the message, its recipients and the credential, opened here with
the server's key. Whoever wins the compare-and-set sends; nobody else can.

A Pro Santé Connect access token that has expired meanwhile is renewed once with the
sealed refresh token. The provider rotates refresh tokens, so the session's own copy is
then spent: the user signs in again at their next refresh. When the credential no longer
works (renewal refused, password changed) the message is not sent, stays in Drafts, and
the account's next page says so, as when a send is refused.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import time
from email.message import EmailMessage

from redis.exceptions import RedisError

from webmail.auth.oidc import PscRefused, PscUnavailable
from webmail.mail.compose import MAX_RECIPIENTS, Draft
from webmail.mail.sasl import AccessToken
from webmail.mail.scheduled import Schedule, Takeover
from webmail.mail.send_seal import Credential, SealedSend
from webmail.views import sending
from webmail.views.common import Services
from webmail.views.compose import Origin
from webmail.views.drafts_open import continued
from webmail.views.undo_send import schedule_store, send_seal
from webmail.views.undo_transmit import Job, transmit

log = logging.getLogger(__name__)

RECOVERY_SECONDS = 2.0  # how often each instance looks for sends whose process died
# An access token with less than this to live is renewed before the send (SMTP and IMAP
# logins follow within seconds).
TOKEN_MARGIN_SECONDS = 15


async def recover_forever(app: Services) -> None:
    store = schedule_store(app)
    while True:
        try:
            await recover(app, store)
        except RedisError:
            log.error("send ledger unavailable: scheduled sends not checked")
        await asyncio.sleep(RECOVERY_SECONDS)


async def recover(app: Services, store: Schedule) -> None:
    """One pass: send every scheduled message whose process is gone."""
    # Its recipients are sealed: the claim's bound is the largest message's.
    seconds = sending.longest_send(app.settings.smtp_timeouts, MAX_RECIPIENTS)
    for taken in await store.recover(seconds):
        if not taken.sealed:
            log.warning("a scheduled send outlived its sealed copy: declared not sent")
            continue
        await _send(app, store, taken)


async def _send(app: Services, store: Schedule, taken: Takeover) -> None:
    sealed = send_seal(app).open(taken.sealed, store.context(taken.account, taken.message_id))
    if sealed is None or sealed.account.lower() != taken.account.lower():
        log.error("a scheduled send could not be opened (secret key changed?): not sent")
        await store.give_up(taken.account, taken.message_id, taken.claim)
        return
    password = await _usable(app, sealed.credential)
    if password is None:
        await store.give_up(taken.account, taken.message_id, taken.claim, "credential")
        return
    log.info("a scheduled send whose process is gone is sent by this instance")
    app.pool.choose(sealed.session_key, sealed.mailbox)
    await transmit(_job(app, sealed, password), store, taken.claim)


async def _usable(app: Services, credential: Credential) -> str | None:
    """What the SMTP and IMAP logins take, or None when it can no longer work."""
    if credential.method != "psc":
        return credential.secret
    if credential.expires_at - time.time() > TOKEN_MARGIN_SECONDS:
        return AccessToken(credential.secret)
    if app.psc is None or not credential.refresh_token:
        return None
    try:
        tokens = await app.psc.refresh(credential.refresh_token, credential.id_token)
    except (PscRefused, PscUnavailable) as error:
        log.warning("scheduled send: access token not renewed: %r", error)
        return None
    return AccessToken(tokens.access_token)


def _job(app: Services, sealed: SealedSend, password: str) -> Job:
    message = email.message_from_bytes(sealed.message, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    writer = Draft(
        sender=sealed.account,
        mailbox=sealed.mailbox,
        from_address=sealed.author if sealed.mailbox else "",
        from_name=sealed.from_name,
    )
    draft = continued(sealed.message, writer)
    draft.message_id = sealed.message_id
    uid = sealed.origin.get("uid")
    origin = Origin(
        mode=str(sealed.origin.get("mode") or "new"),
        folder=str(sealed.origin.get("folder") or ""),
        uid=uid if isinstance(uid, int) else None,
    )
    return Job(
        app,
        sealed.account,
        sealed.session_key,
        password,
        draft,
        origin,
        message,
        sealed.recipients,
        sealed.client_ip,
    )
