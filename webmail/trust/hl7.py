"""The HL7 v2 data types XDS metadata carries: dates (DTM), identifiers (CX), persons (XCN)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?")
# Characters with a meaning in HL7 v2 encoding: never let them in a value we write.
_DELIMITERS = re.compile(r"[|^&~\\\r\n]")


def parse_datetime(text: str) -> datetime | None:
    """ "20240115093000" (UTC in XDS), "20240115093000+0100" (CDA), or a shorter precision."""
    match = _DTM.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    zone = UTC
    if offset:
        sign = -1 if offset[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    try:
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=zone,
        )
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})\d*(?:[+-]\d{4})?", text.strip())
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def format_datetime(value: datetime) -> str:
    """XDS times are UTC, to the second."""
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def clean(value: str) -> str:
    """A value safe to place in an HL7 field: delimiters removed, one line."""
    return " ".join(_DELIMITERS.sub(" ", value).split())


@dataclass(frozen=True)
class Identifier:
    """CX: ``id^^^&oid&ISO``."""

    value: str
    oid: str

    def encode(self) -> str:
        return f"{clean(self.value)}^^^&{clean(self.oid)}&ISO"


def parse_identifier(text: str) -> Identifier | None:
    fields = text.split("^")
    authority = fields[3].split("&") if len(fields) > 3 else []
    oid = authority[1] if len(authority) > 1 else ""
    if not fields[0].strip():
        return None
    return Identifier(fields[0].strip(), oid.strip())


@dataclass(frozen=True)
class Person:
    """XCN: ``id^FAMILY^Given^^^prefix^^^&oid&ISO``; shown as "Dr Given FAMILY"."""

    family: str
    given: str = ""
    prefix: str = ""
    ident: str = ""
    oid: str = ""

    @property
    def display(self) -> str:
        return " ".join(part for part in (self.prefix, self.given, self.family) if part)

    def encode(self) -> str:
        authority = f"&{clean(self.oid)}&ISO" if self.oid else ""
        return (
            f"{clean(self.ident)}^{clean(self.family)}^{clean(self.given)}^^^"
            f"{clean(self.prefix)}^^^{authority}"
        )


def parse_person(text: str) -> Person:
    fields = [field.strip() for field in text.split("^")] + [""] * 9
    authority = fields[8].split("&")
    return Person(
        family=fields[1],
        given=fields[2],
        prefix=fields[5],
        ident=fields[0],
        oid=authority[1] if len(authority) > 1 else "",
    )
