"""The compose form: what it carries (the original answered or forwarded, the files kept on
the server, the last attempt's outcome), how it is read back from a submission, and how it
is shown."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from webmail.errors import WebmailError
from webmail.mail import compose, drafts, rich_text
from webmail.mail.compose import Draft
from webmail.mail.drafts import KeptFile
from webmail.templating import render
from webmail.views.common import folder_param, services, text_field, uid_param

MODES = ("new", "reply", "replyall", "forward")
# Where the files listed on the form (kept from an earlier attempt) are read from.
SOURCES = ("origin", "draft")
RICH = "html"  # the form's format when written with "Mise en forme" (static/compose.js)


@dataclass
class Origin:
    """The message this draft answers or forwards."""

    mode: str = "new"
    folder: str = ""
    uid: int | None = None


@dataclass
class Kept:
    """Files already on the server (the forwarded original, or the draft): listed on the
    form with a checkbox each, attached again from there at each send."""

    source: str = ""
    files: list[KeptFile] = field(default_factory=list)
    chosen: set[str] = field(default_factory=set)
    attached: int = 0  # how many of the message's files came from there
    # True when the form could not be given its files back (the server was unreachable).
    unlisted: bool = False
    # Keep every file of the source, ticked or not (an autosave must not drop a file the
    # user unticked for now: ticked again, it is read from the draft at send time).
    everything: bool = False


@dataclass
class Outcome:
    """What the form says about the last attempt, beyond the error or warning line."""

    error: str | None = None
    warning: str | None = None
    status: int = 200
    server_reply: str = ""  # the server's own answer: data, shown escaped
    refused: list[tuple[str, str, bool]] = field(default_factory=list)  # address, answer, temp
    unknown: bool = False  # offer "Renvoyer quand même"
    files_lost: bool = False  # the new files could not be kept: say to add them again
    trust_confirm: str = ""  # outside the trust space, in warn mode: "Envoyer quand même"


def kept_from(raw: bytes, source: str) -> Kept:
    files = [described for described, _upload in drafts.kept_files(raw)]
    return Kept(source=source, files=files, chosen={f.digest for f in files})


def form_page(
    request: Request,
    draft: Draft,
    origin: Origin,
    kept: Kept,
    outcome: Outcome | None = None,
) -> Response:
    from webmail.views import (
        recipient_trust,  # it gives back through this module's Outcome
        structured,  # it renders through this module's form_page
    )

    outcome = outcome or Outcome()
    return render(
        request,
        "pages/compose.html",
        {
            "draft": draft,
            "origin": origin,
            "kept": kept,
            "outcome": outcome,
            "error": outcome.error,
            "warning": outcome.warning,
            "max_upload_bytes": services(request).settings.max_upload_bytes,
            "structured": structured.form_state(request),
            "folder": None,
            "recipient_trust": recipient_trust.marks(request, draft, outcome),
            # The addresses the user may write from (views/shared_mailboxes.py).
            "senders": getattr(request.state, "senders", []),
            "copies_note": getattr(request.state, "copies_note", ""),
        },
        status_code=outcome.status,
    )


def draft_from_form(form: FormData, user: str) -> Draft:
    message_id = text_field(form, "message_id", limit=200)
    if not compose.valid_message_id(message_id, user):
        # Missing (a form from before) or not ours: never reuse a value we did not make.
        message_id = compose.new_message_id(user)
    body, html = _body(form)
    return Draft(
        sender=user,
        to=text_field(form, "to", limit=5000),
        cc=text_field(form, "cc", limit=5000),
        bcc=text_field(form, "bcc", limit=5000),
        subject=text_field(form, "subject", limit=1000),
        body=body,
        html=html,
        in_reply_to=text_field(form, "in_reply_to", limit=1000),
        references=text_field(form, "references", limit=10000),
        message_id=message_id,
        read_receipt=text_field(form, "read_receipt") == "yes",
    )


def _body(form: FormData) -> tuple[str, str]:
    """The text and the sanitised HTML ("" in plain text) typed in the form. The HTML is
    cleaned here, before anything else sees it; its text alternative is made from it."""
    text = text_field(form, "body", limit=2_000_000)
    if text_field(form, "format") != RICH:
        return text, ""
    html = rich_text.sanitise(text_field(form, "body_html", limit=2_000_000))
    if not html and text.strip():  # the editor sent nothing: keep the words typed
        html = rich_text.from_text(text)
    return (rich_text.to_text(html), html) if html else (text, "")


def origin_from_form(form: FormData) -> Origin:
    mode = text_field(form, "mode")
    if mode not in MODES or mode == "new":
        return Origin()
    uid_text = text_field(form, "origin_uid")
    return Origin(
        mode=mode,
        folder=folder_param(text_field(form, "origin_folder")),
        uid=uid_param(uid_text) if uid_text else None,
    )


def origin_note(origin: Origin) -> str:
    """What a Drafts copy records of the message it replies to ("" for none)."""
    if origin.mode not in ("reply", "replyall") or origin.uid is None:
        return ""
    return json.dumps([origin.mode, origin.folder, origin.uid])


def noted_origin(note: str) -> Origin:
    """The original a draft recorded, checked as a form's would be; none if unreadable."""
    try:
        mode, folder, uid = json.loads(note) if note else ("new", "", None)
        if mode not in ("reply", "replyall") or not isinstance(uid, int):
            return Origin()
        return Origin(mode=mode, folder=folder_param(str(folder)), uid=uid_param(str(uid)))
    except (ValueError, TypeError, WebmailError):
        return Origin()
