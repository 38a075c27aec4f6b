"""Continuing a draft: the compose form again, as it was saved.

The draft keeps its Message-ID, so saving it again replaces it (``mail/drafts.py``) and
sending it removes it; its files are listed as kept files of the draft, attached again
from there at send time. A draft whose sending may already have reached its recipients
(``$MSSOutcomeUnknown``) opens with that warning and only "Renvoyer quand même".
"""

from __future__ import annotations

import email
import email.policy
from email.utils import getaddresses

from starlette.requests import Request
from starlette.responses import Response

from webmail import i18n
from webmail.mail import compose, drafts, mime, rich_text
from webmail.mail.compose import Draft
from webmail.mail.imap import ImapClient
from webmail.mail.imap_syntax import as_text
from webmail.views import shared_mailboxes
from webmail.views.common import authenticated, folder_param, services, uid_param
from webmail.views.compose import Kept, Outcome, form_page, kept_from, noted_origin
from webmail.views.message import fetch_raw


async def open_draft(request: Request) -> Response:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    writer = Draft(sender=auth.user)
    async with services(request).pool.use(auth.key, auth.user, auth.password) as session:
        await shared_mailboxes.offer_senders(request, session, writer)
        raw = await fetch_raw(session, folder, uid)
        unknown = drafts.OUTCOME_UNKNOWN in await _flags_of(session.imap, uid)
    draft = continued(raw, writer)
    kept, outcome = Kept(), Outcome()
    if draft.message_id:
        kept = kept_from(raw, "draft")
    else:
        # Written elsewhere: a Message-ID we did not make is never reused, so its files
        # cannot be found again under the new one. The draft itself stays where it is.
        draft.message_id = compose.new_message_id(auth.user)
        if mime.parse_or_plain(raw).attachments:
            outcome.warning = i18n._(
                "Ce brouillon vient d'une autre messagerie : ses pièces jointes ne sont pas "
                "reprises. Il reste tel quel dans vos brouillons."
            )
    if unknown:
        outcome.unknown = True
        outcome.warning = i18n._(
            "L'envoi de ce message n'a pas été confirmé par le serveur : il est peut-être "
            "déjà parti."
        )
    return form_page(request, draft, noted_origin(draft.answers), kept, outcome)


def continued(raw: bytes, writer: Draft) -> Draft:
    """The draft as saved, from the mailbox ``writer`` is from; its Message-ID only when it
    is one of ours (empty otherwise)."""
    parsed = mime.parse_or_plain(raw)
    headers = email.message_from_bytes(raw, policy=email.policy.compat32)
    message_id = (parsed.message_id or "").strip()
    if not compose.valid_message_id(message_id, writer.sender):
        message_id = ""
    return Draft(
        sender=writer.sender,
        to=_addresses(headers.get_all("To", [])),
        cc=_addresses(headers.get_all("Cc", [])),
        bcc=_addresses(headers.get_all("Bcc", [])),
        subject=parsed.subject,
        body=(parsed.text or "").replace("\r\n", "\n"),
        in_reply_to=parsed.in_reply_to or "",
        references=" ".join(parsed.references),
        message_id=message_id,
        read_receipt=bool(headers.get("Disposition-Notification-To")),
        html=rich_text.sanitise(parsed.html) if parsed.html else "",
        answers=str(headers.get(compose.ANSWERS_HEADER, "")),
    ).written_as(writer)


def _addresses(values: list[str]) -> str:
    return ", ".join(address for _name, address in getaddresses(values) if address)


async def _flags_of(imap: ImapClient, uid: int) -> frozenset[str]:
    items = await imap.fetch([uid], "(UID FLAGS)")
    for item in items:
        flags = item.data.get("FLAGS")
        if item.uid == uid and isinstance(flags, list):
            return frozenset(as_text(flag) for flag in flags)
    return frozenset()
