"""BODYSTRUCTURE (RFC 3501 section 7.4.2) read into a tree of parts, and the reading plan.

A message is opened by its structure: the tree says which parts are the text to show and
which are files to list, so that only the shown parts are fetched and a 3 MB PDF is read only
when downloaded. The plan mirrors ``mime.parse_message`` rule for rule (same part ids, same
bodies, same file names), so the reader shows the same thing either way. Whatever this module
cannot understand raises ``Unsupported``: the caller then reads that message whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from webmail.mail.headers import text_value
from webmail.mail.imap_syntax import Value
from webmail.mail.parts import MAX_DEPTH, Attachment, raw_filename, safe_filename

# Machine-readable parts of delivery and read reports: shown with the text (as in mime).
REPORT_TYPES = frozenset(
    {"message/delivery-status", "message/disposition-notification", "text/rfc822-headers"}
)
# Machine-readable reports the stdlib parses as header blocks (RFC 3464, RFC 8098).
_FIELD_BLOCKS = frozenset({"message/delivery-status", "message/disposition-notification"})
# Base64 lines are 76 characters and a line break: the decoded size from the encoded one.
_BASE64_RATIO = 76 / 78 * 3 / 4


class Unsupported(ValueError):
    """A structure this module does not read the way the whole-message parser would."""


@dataclass(frozen=True)
class Node:
    part_id: str  # IMAP numbering: "1", "2.1"…; "" for a top-level multipart
    content_type: str  # lower case, "text/plain"
    params: tuple[tuple[str, str], ...]
    content_id: str | None
    encoding: str  # lower case, "base64", "7bit"…
    size: int  # octets as sent (encoded)
    disposition: str | None  # lower case, "attachment", "inline"
    disposition_params: tuple[tuple[str, str], ...]
    children: tuple[Node, ...] = ()
    # message/rfc822 only: the subject from the envelope (raw, encoded words left in).
    subject: str = ""

    @property
    def multipart(self) -> bool:
        return self.content_type.startswith("multipart/")

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.params if key == name), None)

    @property
    def filename(self) -> str:
        """The sender's file name, decoded as the header parser does (RFC 2231, encoded words)."""
        return raw_filename(self.headers())

    @property
    def decoded_size(self) -> int:
        if self.encoding == "base64":
            return int(self.size * _BASE64_RATIO)
        return self.size

    def headers(self) -> Message:
        """Content-Type and Content-Disposition rebuilt from the structure, for the parsers
        that read file names from headers."""
        headers = Message()
        headers["Content-Type"] = self.content_type + _parameters(self.params)
        if self.disposition is not None:
            headers["Content-Disposition"] = self.disposition + _parameters(self.disposition_params)
        return headers

    def find(self, part_id: str) -> Node | None:
        if self.part_id == part_id:
            return self
        for child in self.children:
            if part_id == child.part_id or part_id.startswith(child.part_id + "."):
                return child.find(part_id)
        return None


def _parameters(params: tuple[tuple[str, str], ...]) -> str:
    quoted = (
        '{}="{}"'.format(key, value.replace("\\", "\\\\").replace('"', '\\"'))
        for key, value in params
    )
    return "".join("; " + item for item in quoted)


# -- parsing -------------------------------------------------------------------------------


def parse(value: Value) -> Node:
    """The tree of a BODYSTRUCTURE value as ``imap_syntax`` parsed it."""
    if not isinstance(value, list):
        raise Unsupported("BODYSTRUCTURE is not a list")
    if value and isinstance(value[0], list):
        return _multipart(value, "")
    return _single(value, "1")


def _multipart(value: list[Value], part_id: str) -> Node:
    if part_id.count(".") >= MAX_DEPTH:
        raise Unsupported("too deep")
    count = next((i for i, item in enumerate(value) if not isinstance(item, list)), len(value))
    bodies = [item for item in value[:count] if isinstance(item, list) and item]
    rest = value[count:]
    if not bodies or not rest or not isinstance(rest[0], bytes):
        raise Unsupported("multipart without parts or subtype")
    children = tuple(
        _multipart(body, _child(part_id, index))
        if isinstance(body[0], list)
        else _single(body, _child(part_id, index))
        for index, body in enumerate(bodies, start=1)
    )
    disposition, disposition_params = _disposition(rest[2] if len(rest) > 2 else None)
    return Node(
        part_id=part_id,
        content_type="multipart/" + _text(rest[0]).lower(),
        params=_params(rest[1] if len(rest) > 1 else None),
        content_id=None,
        encoding="7bit",
        size=0,
        disposition=disposition,
        disposition_params=disposition_params,
        children=children,
    )


def _single(value: list[Value], part_id: str) -> Node:
    if len(value) < 7 or not isinstance(value[6], int):
        raise Unsupported("body without its seven fields")
    content_type = f"{_text(value[0])}/{_text(value[1])}".lower()
    children: tuple[Node, ...] = ()
    subject = ""
    extension = 8  # md5 is field 7 of a basic body: disposition comes after it
    if content_type == "message/rfc822" and len(value) >= 10:
        envelope, inner = value[7], value[8]
        if isinstance(envelope, list) and len(envelope) > 1 and isinstance(envelope[1], bytes):
            subject = _raw(envelope[1])
        children = _encapsulated_children(inner, part_id)
        extension = 11
    elif content_type.startswith("text/"):
        extension = 9  # after the line count
    disposition, disposition_params = _disposition(
        value[extension] if len(value) > extension else None
    )
    content_id = _text(value[3]).strip("<> ") if isinstance(value[3], bytes) else ""
    return Node(
        part_id=part_id,
        content_type=content_type if "/" in content_type.strip("/") else "text/plain",
        params=_params(value[2]),
        content_id=content_id or None,
        encoding=_text(value[5]).lower() or "7bit",
        size=value[6],
        disposition=disposition,
        disposition_params=disposition_params,
        children=children,
        subject=subject,
    )


def _encapsulated_children(inner: Value, part_id: str) -> tuple[Node, ...]:
    """The parts of an attached message: a multipart's parts, or its lone body (id n.1)."""
    if not isinstance(inner, list) or not inner:
        raise Unsupported("message/rfc822 without its body")
    if isinstance(inner[0], list):
        return _multipart(inner, part_id).children
    if part_id.count(".") >= MAX_DEPTH:
        raise Unsupported("too deep")
    return (_single(inner, _child(part_id, 1)),)


def _params(value: Value) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    pairs = []
    for index in range(0, len(value) - 1, 2):
        key, item = value[index], value[index + 1]
        if isinstance(key, bytes) and isinstance(item, bytes | int):
            pairs.append((_text(key).lower(), _raw(item) if isinstance(item, bytes) else str(item)))
    return tuple(pairs)


def _disposition(value: Value) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    if not (isinstance(value, list) and value and isinstance(value[0], bytes)):
        return None, ()
    return _text(value[0]).lower(), _params(value[1] if len(value) > 1 else None)


def _raw(value: bytes) -> str:
    """A value as the header parser keeps it: 8-bit bytes as surrogate escapes, decoded later."""
    return value.decode("ascii", "surrogateescape")


def _text(value: Value) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value) if isinstance(value, int) else ""


def _child(parent: str, index: int) -> str:
    return f"{parent}.{index}" if parent else str(index)


# -- the reading plan ----------------------------------------------------------------------


@dataclass
class Plan:
    """What to fetch and what to list: bodies in reading order, then the files."""

    bodies: list[tuple[str, Node]]  # ("text" | "html", part)
    attachments: list[Attachment]


def plan(root: Node) -> Plan:
    """The same bodies and files ``mime.parse_message`` finds, from the structure alone."""
    walker = _Walker(bodies=True)
    if root.multipart:
        walker.visit(root)
    elif root.content_type == "message/rfc822":
        raise Unsupported("a message whose whole body is a message")  # shown in place
    else:
        walker.leaf(root, top=True)
    return Plan(walker.found, walker.attachments)


class _Walker:
    def __init__(self, *, bodies: bool) -> None:
        self.bodies = bodies
        self.found: list[tuple[str, Node]] = []
        self.attachments: list[Attachment] = []

    def visit(self, node: Node) -> None:
        if node.part_id.count(".") >= MAX_DEPTH:
            return
        if not node.multipart:
            self.leaf(node)
            return
        if node.content_type != "multipart/alternative":
            for child in node.children:
                self.visit(child)
            return
        has_text = has_html = False
        for child in node.children:
            body = self.bodies and is_body(child)
            if child.content_type == "text/plain" and body:
                if not has_text:
                    self.found.append(("text", child))
                has_text = True
            elif child.content_type == "text/html" and body:
                if not has_html:
                    self.found.append(("html", child))
                has_html = True
            else:
                self.visit(child)

    def leaf(self, node: Node, *, top: bool = False) -> None:
        kind = node.content_type
        if kind in ("text/plain", "text/html") and (top or is_body(node)):
            if self.bodies:
                self.found.append(("text" if kind == "text/plain" else "html", node))
            return
        if kind in _FIELD_BLOCKS:
            # The whole-message parser reads these as blocks of fields with no text: nothing
            # of them is shown (the report's human part says what happened), nor listed.
            return
        if kind.startswith("message/") and kind != "message/rfc822":
            raise Unsupported(f"{kind} is read as an encapsulated message")
        if kind in REPORT_TYPES:
            if self.bodies:
                self.found.append(("text", node))
            return
        if kind == "message/rfc822":
            self.attached_message(node)
            return
        self.attachments.append(describe(node))

    def attached_message(self, node: Node) -> None:
        if node.encoding in ("base64", "quoted-printable"):
            raise Unsupported("an encoded attached message")  # mime decodes and reparses it
        inside = _Walker(bodies=False)
        for child in node.children:
            if child.part_id.count(".") > MAX_DEPTH:
                continue
            if child.multipart:
                inside.visit(child)
            else:
                inside.leaf(child)
        self.attachments.append(describe(node, tuple(inside.attachments)))


def is_body(node: Node) -> bool:
    """A text part is the body unless sent as an attachment or given a file name."""
    return node.disposition != "attachment" and not node.filename.strip()


def describe(node: Node, contents: tuple[Attachment, ...] = ()) -> Attachment:
    return Attachment(
        part_id=node.part_id,
        filename=safe_filename(node.filename, node.content_type, subject=text_value(node.subject)),
        content_type=node.content_type,
        size=node.decoded_size,
        content_id=node.content_id,
        contents=contents,
    )
