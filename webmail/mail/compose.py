"""Building outgoing mail: new, reply, reply-all, forward, with attachments."""

from __future__ import annotations

import email
import email.policy
import html as html_module
import re
import secrets
import textwrap
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from webmail.i18n import _
from webmail.mail import mime, rich_text

MAX_RECIPIENTS = 100
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


class InvalidDraft(ValueError):
    """The draft cannot be sent as it is; the message says why, in French."""


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Draft:
    sender: str
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    in_reply_to: str = ""
    references: str = ""
    message_id: str = ""  # set once when the form is first shown: the idempotency key
    attachments: list[Upload] = field(default_factory=list)
    # Extra headers a feature adds (MSSanté's X-MSS-INS for a structured document, say).
    headers: dict[str, str] = field(default_factory=dict)
    # Written from an organisational mailbox (mail/mailboxes.py): its key and address, and
    # the organisation's name; ``sender`` stays the user's own address (the Sender header).
    mailbox: str = ""
    from_address: str = ""
    from_name: str = ""
    # Ask for a read receipt (RFC 8098 Disposition-Notification-To, to the From address).
    read_receipt: bool = False
    # Written with "Mise en forme": the sanitised HTML (mail/rich_text.py), ``body`` then
    # being its text alternative; "" for plain text, the default.
    html: str = ""
    # The message it answers, as the Drafts copy records it (ANSWERS_HEADER, never sent):
    # a reply continued later still flags its original \\Answered.
    answers: str = ""

    @property
    def author(self) -> str:
        """The From address, and the envelope sender: bounces go back to that mailbox."""
        return self.from_address or self.sender

    def written_as(self, writer: Draft) -> Draft:
        """This draft written by ``writer``'s user, from the mailbox ``writer`` is from."""
        return replace(
            self,
            sender=writer.sender,
            mailbox=writer.mailbox,
            from_address=writer.from_address,
            from_name=writer.from_name,
        )


ANSWERS_HEADER = "X-MSS-Answers"


def new_message_id(sender: str) -> str:
    return f"<mss.{secrets.token_hex(16)}@{_domain(sender)}>"


def valid_message_id(value: str, sender: str) -> bool:
    """Only our own format, for our own domain: the value comes back from a browser and
    ends up in a header and a Redis key."""
    expected = re.escape(_domain(sender))
    return re.fullmatch(rf"<mss\.[0-9a-f]{{32}}@{expected}>", value) is not None


def _domain(sender: str) -> str:
    domain = sender.rpartition("@")[2].lower()
    return domain if re.fullmatch(r"[a-z0-9.-]{1,253}", domain) else "localhost"


def parse_recipients(text: str) -> list[str]:
    """Addresses from a comma/semicolon separated field; raises InvalidDraft on a bad one."""
    found = []
    for _name, address in getaddresses([text.replace(";", ",")]):
        address = address.strip()
        if not address:
            continue
        if not _ADDRESS.match(address):
            raise InvalidDraft(_("Adresse invalide : {address}").format(address=address))
        found.append(address)
    bad_chunks = [
        chunk.strip() for chunk in re.split(r"[,;]", text) if chunk.strip() and "@" not in chunk
    ]
    if bad_chunks:
        raise InvalidDraft(_("Adresse invalide : {address}").format(address=bad_chunks[0]))
    return found


def all_recipients(draft: Draft) -> list[str]:
    recipients = (
        parse_recipients(draft.to) + parse_recipients(draft.cc) + parse_recipients(draft.bcc)
    )
    if not recipients:
        raise InvalidDraft(_("Indiquez au moins un destinataire."))
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidDraft(_("Pas plus de {n} destinataires par message.").format(n=MAX_RECIPIENTS))
    return list(dict.fromkeys(recipients))


def build_message(draft: Draft, *, display_name: str = "") -> EmailMessage:
    """The RFC 5322 message, Bcc included: the copy kept in Sent or Drafts needs it, and the
    SMTP client drops it from what it transmits (aiosmtplib removes Bcc before sending)."""
    message = EmailMessage()
    name = draft.from_name if draft.from_address else display_name
    message["From"] = HeaderAddress(display_name=name, addr_spec=draft.author)
    if draft.author.lower() != draft.sender.lower():
        # RFC 5322 3.6.2: who actually wrote it, for an organisational mailbox.
        message["Sender"] = HeaderAddress(display_name=display_name, addr_spec=draft.sender)
    for header, value in (("To", draft.to), ("Cc", draft.cc)):
        if parse_recipients(value):
            message[header] = ", ".join(parse_recipients(value))
    if parse_recipients(draft.bcc):
        message["Bcc"] = ", ".join(parse_recipients(draft.bcc))
    message["Subject"] = _one_line(draft.subject)
    message["Date"] = format_datetime(_now())
    message["Message-ID"] = draft.message_id or new_message_id(draft.sender)
    if draft.in_reply_to:
        message["In-Reply-To"] = _one_line(draft.in_reply_to)
    if draft.references:
        message["References"] = _one_line(draft.references)
    if draft.read_receipt:
        message["Disposition-Notification-To"] = str(HeaderAddress(addr_spec=draft.author))
    for name, value in draft.headers.items():
        message[name] = _one_line(value)
    message["MIME-Version"] = "1.0"
    message.set_content(draft.body.replace("\r\n", "\n"), subtype="plain", charset="utf-8")
    if clean := rich_text.sanitise(draft.html):  # cleaned on the way in; again, whatever the path
        message.add_alternative(rich_text.document(clean), subtype="html", charset="utf-8")
    for upload in draft.attachments:
        _attach(message, upload)
    return message


def draft_copy(draft: Draft, *, display_name: str = "") -> EmailMessage:
    """The copy kept in Drafts. Addresses that do not parse are left out of it rather than
    losing the text and the files: the form still shows them as typed."""
    try:
        message = build_message(draft, display_name=display_name)
    except InvalidDraft:
        message = build_message(replace(draft, to="", cc="", bcc=""), display_name=display_name)
    if draft.answers:
        message[ANSWERS_HEADER] = _one_line(draft.answers)
    return message


def _attach(message: EmailMessage, upload: Upload) -> None:
    filename = mime.safe_filename(upload.filename, upload.content_type)
    if upload.content_type.lower() == "message/rfc822" or filename.lower().endswith(".eml"):
        inner = _embeddable(upload.data)
        if inner is not None:
            # RFC 2046 section 5.2.1: message/rfc822 is 7bit, 8bit or binary, never base64.
            message.add_attachment(inner, filename=filename)
            return
    maintype, _, subtype = upload.content_type.partition("/")
    if not subtype or not re.fullmatch(r"[\w.+-]+", maintype + subtype) or maintype == "message":
        maintype, subtype = "application", "octet-stream"
    message.add_attachment(upload.data, maintype=maintype, subtype=subtype, filename=filename)


def _embeddable(data: bytes) -> EmailMessage | None:
    """The message to embed as message/rfc822, or None when it cannot travel as 7bit/8bit
    (NUL bytes, lines over 998 octets, no header): it then goes as a plain file."""
    if b"\x00" in data or any(len(line) > 998 for line in data.splitlines()):
        return None
    inner = email.message_from_bytes(data, policy=email.policy.default)
    if not inner.keys():
        return None
    assert isinstance(inner, EmailMessage)
    return inner


def _now() -> datetime:
    return datetime.now().astimezone()


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n\x00]+", " ", text).strip()


# -- replies and forwards ------------------------------------------------------------------


def reply_subject(subject: str) -> str:
    clean = mime.display_subject(subject)
    return clean if re.match(r"(?i)^(re|ré|rép)\s*:", clean) else f"RE: {clean}"


def forward_subject(subject: str) -> str:
    clean = mime.display_subject(subject)
    return clean if re.match(r"(?i)^(fwd?|tr)\s*:", clean) else f"TR: {clean}"


def quote_body(original: mime.ParsedMessage, intro: str) -> str:
    text = original.text or ""
    if not text and original.html:
        text = html_to_text(original.html)
    quoted = "\n".join("> " + line if line else ">" for line in text.splitlines())
    return f"\n\n{intro}\n{quoted}\n"


def html_to_text(html: str) -> str:
    text = re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", "", html)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</h\d>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html_module.unescape(text)
    return "\n".join(textwrap.dedent(line).rstrip() for line in text.splitlines()).strip()


def reply_draft(original: mime.ParsedMessage, sender: str, *, reply_all: bool, intro: str) -> Draft:
    targets = original.reply_to or original.from_
    to = [address.address for address in targets]
    cc: list[str] = []
    if reply_all:
        others = [a.address for a in original.to + original.cc]
        cc = [a for a in others if a.lower() != sender.lower() and a not in to]
    references = " ".join([*original.references, original.message_id or ""]).strip()
    return Draft(
        sender=sender,
        to=", ".join(dict.fromkeys(to)),
        cc=", ".join(dict.fromkeys(cc)),
        subject=reply_subject(original.subject),
        body=quote_body(original, intro),
        in_reply_to=original.message_id or "",
        references=references,
    )


def forward_draft(original: mime.ParsedMessage, sender: str, intro: str) -> Draft:
    return Draft(
        sender=sender,
        subject=forward_subject(original.subject),
        body=quote_body(original, intro),
    )
