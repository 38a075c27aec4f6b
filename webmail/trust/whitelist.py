"""The MSSanté operator whitelist: the domains allowed to exchange inside the trust space.

The ANS publishes it as ``listeblanchemssante.xml`` (namespace
``https://listeblanche.mssante.fr/schema``): a ``DateDeGeneration``, then one ``Domaine`` per
domain with ``Nom``, ``Description``, ``DNCertificatOperateur``, ``ResponsableContact``,
``SupportContact`` and ``DateMAJ``. The file comes from the network and decides where health
data may go, so it is read as hostile: defusedxml with no DTD, no entities and no external
reference (nothing is ever fetched), a size cap checked before reading, and the parse streamed
element by element. A file that is not this format is refused whole; a bad entry inside a
good file is counted and reported, never fatal.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

NAMESPACE = "https://listeblanche.mssante.fr/schema"
# The real list (about 8,600 domains) is a few megabytes: anything far larger is not it.
MAX_BYTES = 32 * 1024 * 1024
MAX_DOMAINS = 100_000
# Invalid entries kept for the report: their count is always exact.
MAX_REPORTED = 100

_DOMAINE = "{" + NAMESPACE + "}Domaine"
_GENERATED = "{" + NAMESPACE + "}DateDeGeneration"
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# The fields of a Domaine, by their tag, as Domain's attributes.
_FIELD_TAGS = {
    "{" + NAMESPACE + "}" + tag: attribute
    for tag, attribute in [
        ("Nom", "name"),
        ("Description", "description"),
        ("DNCertificatOperateur", "certificate_dn"),
        ("ResponsableContact", "responsible_contact"),
        ("SupportContact", "support_contact"),
        ("DateMAJ", "updated"),
    ]
}


class WhitelistRefused(Exception):
    """The file is not a usable whitelist; the message says why, for the operator."""


@dataclass(frozen=True)
class Domain:
    name: str  # normalised: lower case, ASCII (IDNA), no trailing dot
    description: str = ""
    certificate_dn: str = ""
    responsible_contact: str = ""
    support_contact: str = ""
    updated: str = ""


@dataclass(frozen=True)
class Invalid:
    """A ``Domaine`` entry left out, by its position in the file (1 for the first)."""

    position: int
    reason: str


@dataclass(frozen=True)
class Whitelist:
    generated: str  # the file's DateDeGeneration, as written
    domains: Mapping[str, Domain]
    invalid: tuple[Invalid, ...] = ()
    invalid_count: int = 0
    duplicates: int = 0

    def __contains__(self, domain: object) -> bool:
        """Exact domains only: the list names each domain, a subdomain is another one."""
        return isinstance(domain, str) and normalise_domain(domain) in self.domains

    def __len__(self) -> int:
        return len(self.domains)


def normalise_domain(text: str) -> str | None:
    """``text`` as the list and the recipients are compared: lower case, ASCII (IDNA),
    without a trailing dot; None when it is not a domain name."""
    text = text.strip().rstrip(".")
    if not text or len(text) > 253 * 4:
        return None
    try:
        # The standard codec applies nameprep (case folding included) label by label.
        ascii_name = text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2:
        return None
    if not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        return None
    return ascii_name


def parse_file(path: Path) -> Whitelist:
    """The whitelist in ``path``; WhitelistRefused when it is not one."""
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > MAX_BYTES:
                raise WhitelistRefused(_too_large(size))
            return parse(stream)
    except OSError as error:
        raise WhitelistRefused(f"cannot read {path}: {error.strerror or error}") from None


def parse_bytes(data: bytes) -> Whitelist:
    if len(data) > MAX_BYTES:
        raise WhitelistRefused(_too_large(len(data)))
    return parse(io.BytesIO(data))


def parse(stream: IO[bytes]) -> Whitelist:
    """Streams ``stream`` (at most MAX_BYTES of it) into a Whitelist."""
    builder = _Builder()
    try:
        for event, element in _events(_Bounded(stream)):
            builder.take(event, element)
    except DefusedXmlException:
        raise WhitelistRefused(
            "the file declares a DTD or entities, which the whitelist never does: refused"
        ) from None
    except ParseError as error:
        line, column = error.position
        raise WhitelistRefused(
            f"not well-formed XML (line {line}, column {column}): refused"
        ) from None
    return builder.result()


def _events(stream: _Bounded) -> Iterator[tuple[str, Element]]:
    events: Iterable[tuple[str, Element]] = iterparse(
        stream, events=("start", "end"), forbid_dtd=True, forbid_entities=True
    )
    yield from events


class _Builder:
    """Collects the domains as their elements end. Every element is dropped from the tree
    once read, so only the path being read stays in memory, however the file is shaped."""

    def __init__(self) -> None:
        self.path: list[Element] = []  # from the root to the element being read
        self.pending: list[dict[str, str]] = []  # the fields of each Domaine being read
        self.generated: str | None = None
        self.domains: dict[str, Domain] = {}
        self.invalid: list[Invalid] = []
        self.invalid_count = 0
        self.duplicates = 0
        self.seen = 0
        self.root: Element | None = None

    def take(self, event: str, element: Element) -> None:
        if event == "start":
            if self.root is None:
                self._check_root(element)
            self.path.append(element)
            if element.tag == _DOMAINE:
                self.pending.append({})
            return
        self.path.pop()
        parent = self.path[-1] if self.path else None
        if element.tag == _DOMAINE:
            self._domain(self.pending.pop())
        elif element.tag == _GENERATED and self.generated is None:
            self.generated = (element.text or "").strip()
        elif parent is not None and parent.tag == _DOMAINE and element.tag in _FIELD_TAGS:
            self.pending[-1].setdefault(_FIELD_TAGS[element.tag], (element.text or "").strip())
        if parent is not None:
            parent.remove(element)

    def _check_root(self, element: Element) -> None:
        if not element.tag.startswith("{" + NAMESPACE + "}") or element.tag == _DOMAINE:
            raise WhitelistRefused(
                f"not an MSSanté whitelist: the root element is {element.tag!r}, expected one "
                f"in the namespace {NAMESPACE}"
            )
        self.root = element

    def _domain(self, fields: dict[str, str]) -> None:
        self.seen += 1
        if self.seen > MAX_DOMAINS:
            raise WhitelistRefused(f"more than {MAX_DOMAINS} domains: not the MSSanté list")
        written = fields.get("name", "")
        name = normalise_domain(written)
        if name is None:
            self._reject(f"invalid domain {written!r}" if written else "no Nom")
            return
        if name in self.domains:
            self.duplicates += 1
            return
        self.domains[name] = Domain(**{**fields, "name": name})

    def _reject(self, reason: str) -> None:
        self.invalid_count += 1
        if len(self.invalid) < MAX_REPORTED:
            self.invalid.append(Invalid(self.seen, reason[:200]))

    def result(self) -> Whitelist:
        if self.root is None:
            raise WhitelistRefused("empty file: refused")
        if self.generated is None:
            raise WhitelistRefused("no DateDeGeneration: not an MSSanté whitelist")
        if not self.domains:
            raise WhitelistRefused(
                f"no valid domain ({self.invalid_count} invalid entries): refused"
            )
        return Whitelist(
            generated=self.generated,
            domains=self.domains,
            invalid=tuple(self.invalid),
            invalid_count=self.invalid_count,
            duplicates=self.duplicates,
        )


def _too_large(size: int) -> str:
    return f"{size} bytes, more than the {MAX_BYTES} a whitelist can be: refused"


class _Bounded:
    """``stream`` read through, refused once it passes MAX_BYTES (a pipe or a file that
    grows while being read has no size to check beforehand)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(64 * 1024 if size < 0 else size)
        self.total += len(chunk)
        if self.total > MAX_BYTES:
            raise WhitelistRefused(f"more than the {MAX_BYTES} bytes a whitelist can be: refused")
        return chunk
