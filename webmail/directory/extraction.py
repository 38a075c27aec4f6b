"""The public extraction of the national directory: its 31 columns, and one line read as a row.

``Extraction_Correspondance_MSSante_<YYYYMMDDhhmm>.txt``: UTF-8, ``|``-separated, one header
line, one row per mailbox (BAL). Only the columns the webmail shows or searches are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

COLUMNS: tuple[str, ...] = (
    "Type de BAL",
    "Adresse BAL",
    "Type Identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Type identifiant structure",
    "Identification Structure",
    "Service de rattachement",
    "Civilité d'exercice",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Catégorie profession",
    "Libellé de catégorie profession",
    "Code Profession",
    "Libellé Profession",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Dématérialisation",
    "Raison Sociale structure BAL",
    "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION structure BAL",
    "L3COMPLEMENTDISTRIBUTION structure BAL",
    "L4NUMEROVOIE structure BAL",
    "L4COMPLEMENTNUMEROVOIE structure BAL",
    "NL4TYPEVOIE structure BAL",
    "L4LIBELLEVOIE structure BAL",
    "L5LIEUDITMENTION structure BAL",
    "L6LIGNEACHEMINEMENT structure BAL",
    "Code postal structure BAL",
    "Département structure BAL",
    "Pays structure BAL",
)
SEPARATOR = "|"
KINDS = ("PER", "ORG", "APP", "CAB")
_SUFFIX = " structure bal"
_BOM = "\ufeff"


def _normal(name: str) -> str:
    # Some extractions drop the " structure BAL" suffix of the address columns, and the case
    # of a few names has changed over the years: compare what the names say.
    return name.strip().casefold().removesuffix(_SUFFIX)


_EXPECTED = tuple(_normal(name) for name in COLUMNS)


def split(line: str) -> list[str]:
    """The fields of one line; a trailing separator (seen in some extractions) is not a field."""
    fields = line.rstrip("\r\n").split(SEPARATOR)
    if len(fields) == len(COLUMNS) + 1 and fields[-1] == "":
        fields.pop()
    return fields


def header_problem(line: str) -> str | None:
    """Why ``line`` is not the extraction's header, or None when it is."""
    names = split(line.removeprefix(_BOM))
    if len(names) != len(COLUMNS):
        return f"expected {len(COLUMNS)} columns in the header, found {len(names)}"
    for position, (found, expected) in enumerate(zip(names, _EXPECTED, strict=True), 1):
        if _normal(found) != expected:
            return f"column {position}: expected {COLUMNS[position - 1]!r}, found {found.strip()!r}"
    return None


@dataclass(frozen=True)
class Mailbox:
    """One row: a mailbox and who or what it belongs to."""

    kind: str
    address: str
    national_id: str
    civility: str
    last_name: str
    first_name: str
    profession_code: str
    profession: str
    specialty_code: str
    specialty: str
    service: str
    workplace: str
    street: str
    postal_code: str
    city: str

    # What groups several mailboxes of one person (the first of the stored values): the
    # national id of a practitioner's personal mailboxes; any other mailbox stands alone.


class MalformedLine(ValueError):
    """A line that cannot be a row; its message says why, in a few words."""


Values = tuple[str, ...]
"""A row as stored: the person key, then Mailbox's fields in order."""


def values(fields: list[str]) -> Values:
    """The stored values of one line's fields; raises MalformedLine. A plain tuple, not a
    Mailbox: this runs once per row of a half-million-row file."""
    if len(fields) != len(COLUMNS):
        raise MalformedLine(f"{len(fields)} columns instead of {len(COLUMNS)}")
    address = fields[1].strip()
    if not address:
        raise MalformedLine("empty mailbox address")
    if "@" not in address or " " in address or "\t" in address:
        raise MalformedLine("mailbox address is not an address")
    kind = fields[0].strip().upper()
    national_id = fields[4].strip()
    postal_code = fields[28].strip()
    street = " ".join(part for part in map(str.strip, fields[22:26]) if part)
    return (
        national_id if kind == "PER" and national_id else address.casefold(),
        kind, address, national_id, fields[8].strip(), fields[9].strip(), fields[10].strip(),
        fields[13].strip(), fields[14].strip(), fields[15].strip(), fields[16].strip(),
        fields[7].strip(), (fields[19].strip() or fields[18].strip()), street, postal_code,
        _city(fields[27].strip(), postal_code),
    )  # fmt: skip


def parse(fields: list[str]) -> Mailbox:
    return Mailbox(*values(fields)[1:])


def _city(routing_line: str, postal_code: str) -> str:
    """The city from the routing line ("75014 PARIS", "PARIS CEDEX 14")."""
    city = routing_line.removeprefix(postal_code).strip() if postal_code else routing_line
    # The routing line is in capitals ("SAINT-ÉTIENNE"): shown as a name is written.
    return (city or routing_line).title()
