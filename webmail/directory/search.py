"""Searching the directory index: free text, filters, several mailboxes of one person grouped.

Every word typed must begin a word of the row: of its names, city, postal code, workplace,
service or mailbox, or of its profession or specialty (as label tokens, see vocabulary.py).
User input never reaches FTS5's query syntax: it is cut into words (letters and digits) and
each word becomes a quoted prefix term, ``"card"*``, so ``NEAR``, ``-``, ``:``, ``*``, quotes
or parentheses are only ever text to find (or nothing at all).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

from webmail.directory import text
from webmail.directory.extraction import KINDS
from webmail.directory.vocabulary import Vocabulary

MAX_WORDS = 8
MAX_WORD_LENGTH = 40
MAX_RESULTS = 50
_NATIONAL_ID = re.compile(r"[0-9A-Za-z]{1,20}")


@dataclass(frozen=True)
class Query:
    text: str = ""
    kind: str = ""  # one of KINDS, or "" for any
    national_id: str = ""
    limit: int = 20

    @property
    def words(self) -> list[str]:
        """The words searched, folded. Words of one or two letters ("de", "la", an initial)
        narrow almost nothing and would read the postings of every term they begin: left out
        beside longer ones, unless they are digits (a département); one letter alone is not
        a search."""
        found = [w[:MAX_WORD_LENGTH] for w in text.words(self.text)][:MAX_WORDS]
        longer = [w for w in found if len(w) > 2 or w.isdigit()]
        return longer or [w for w in found if len(w) > 1]

    @property
    def is_empty(self) -> bool:
        return not self.words and not self.national_id


def clean_kind(value: str) -> str:
    """A mailbox type from a form: one of KINDS, or "" (any) for anything else."""
    upper = value.strip().upper()
    return upper if upper in KINDS else ""


def clean_national_id(value: str) -> str:
    """A national id from a form, spaces removed; "" when it cannot be one."""
    compact = "".join(value.split())
    return compact if _NATIONAL_ID.fullmatch(compact) else ""


def match_expression(words: list[str]) -> str:
    """The FTS5 query: every word, as a quoted prefix (quotes inside doubled, though words
    of letters and digits hold none)."""
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


@dataclass(frozen=True)
class Address:
    address: str
    kind: str
    workplace: str
    service: str
    city: str


@dataclass
class Entry:
    """A person (all their personal mailboxes) or one organisational, application or
    practice mailbox."""

    key: str
    kind: str
    civility: str
    last_name: str
    first_name: str
    profession: str
    specialty: str
    workplace: str
    service: str
    postal_code: str
    city: str
    national_id: str
    addresses: list[Address] = field(default_factory=list)

    @property
    def name(self) -> str:
        """« Claire Martin », or for a mailbox of a service, the service and its workplace."""
        person = " ".join(part for part in (self.first_name, self.last_name) if part)
        return person or self.service or self.workplace or self.addresses[0].address


_COLUMNS = (
    "person, kind, address, national_id, civility, last_name, first_name, profession, "
    "specialty, service, workplace, postal_code, city"
)


def search(
    db: sqlite3.Connection, query: Query, vocabulary: Vocabulary | None = None
) -> list[Entry]:
    """The entries matching ``query``, each with all its mailboxes; [] for an empty query."""
    if query.is_empty:
        return []
    keys = _matching_people(db, query, vocabulary or Vocabulary.load(db))
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM mailbox WHERE person IN ({marks}) ORDER BY id",  # noqa: S608 - only placeholders
        keys,
    ).fetchall()
    return _grouped(rows, keys)


# The columns a typed word is looked for in; the labels column holds only our own tokens.
TEXT_COLUMNS = "{last_name first_name city postal_code workplace service mailbox}"
# FTS5 reads a prefix whose length has its own prefix index lazily, stopping at the limit; any
# other prefix ("sophie"*) has the postings of all its terms merged first, which costs
# milliseconds for a common name. So the index is asked for the first letters of longer
# words, and each row found is checked against the whole words.
INDEXED_PREFIX = 4
BATCH = 100
MAX_BATCHES = 10


def full_text_query(words: list[str], vocabulary: Vocabulary) -> str:
    """Every word (cut to INDEXED_PREFIX letters) begins a word of the text columns, or the
    whole word begins a word of a profession or specialty."""
    groups = []
    for word in words:
        either = [f"{TEXT_COLUMNS} : {match_expression([word[:INDEXED_PREFIX]])}"]
        either += [f'labels : "{token}"' for token in vocabulary.tokens(word)]
        groups.append(f"({' OR '.join(either)})")
    return " AND ".join(groups)


_CANDIDATE = (
    "m.id, m.person, m.last_name || ' ' || m.first_name || ' ' || m.city || ' ' || "
    "m.postal_code || ' ' || m.workplace || ' ' || m.service || ' ' || "
    "substr(m.address, 1, instr(m.address, '@') - 1) || ' ' || m.profession || ' ' || "
    "m.specialty"
)


def _matching_people(db: sqlite3.Connection, query: Query, vocabulary: Vocabulary) -> list[str]:
    limit = max(1, min(query.limit, MAX_RESULTS))
    filters, parameters = _filters(query)
    if not query.words:
        rows = db.execute(
            f"SELECT DISTINCT m.person FROM mailbox AS m WHERE {filters} LIMIT ?",  # noqa: S608 - constant pieces only
            [*parameters, limit],
        ).fetchall()
        return [str(row[0]) for row in rows]
    sql = (
        f"SELECT {_CANDIDATE} FROM mailbox_text JOIN mailbox AS m ON m.id = mailbox_text.rowid "  # noqa: S608 - constant pieces only
        f"WHERE mailbox_text MATCH ? AND mailbox_text.rowid > ? AND {filters} "
        "ORDER BY mailbox_text.rowid LIMIT ?"
    )
    expression = full_text_query(query.words, vocabulary)
    long_words = [word for word in query.words if len(word) > INDEXED_PREFIX]
    people: list[str] = []
    after = 0
    # Not ranked: ranking every match of a two-letter prefix among a million rows costs tens
    # of milliseconds; the first people found are sorted by name afterwards instead.
    for _batch in range(MAX_BATCHES):
        rows = db.execute(sql, [expression, after, *parameters, BATCH]).fetchall()
        for row_id, person, row_text in rows:
            after = row_id
            if person not in people and _has_all(row_text, long_words):
                people.append(person)
                if len(people) == limit:
                    return people
        if len(rows) < BATCH:
            break
    return people


def _filters(query: Query) -> tuple[str, list[str]]:
    conditions = ["1"]
    parameters: list[str] = []
    if query.kind:
        conditions.append("m.kind = ?")
        parameters.append(query.kind)
    if query.national_id:
        conditions.append("m.national_id = ?")
        parameters.append(query.national_id)
    return " AND ".join(conditions), parameters


def _has_all(row_text: str, words: list[str]) -> bool:
    """Whether each word begins a word of the row (its text, profession or specialty)."""
    if not words:
        return True
    own = text.words(row_text)
    return all(text.begins_a_word(word, own) for word in words)


def _grouped(rows: list[tuple[str, ...]], keys: list[str]) -> list[Entry]:
    entries: dict[str, Entry] = {}
    for (person, kind, address, national_id, civility, last, first, profession, specialty,
         service, workplace, postal_code, city) in rows:  # fmt: skip
        entry = entries.get(person)
        if entry is None:
            entry = entries[person] = Entry(
                key=person, kind=kind, civility=civility, last_name=last, first_name=first,
                profession=profession, specialty=specialty, workplace=workplace,
                service=service, postal_code=postal_code, city=city, national_id=national_id,
            )  # fmt: skip
        entry.addresses.append(Address(address, kind, workplace, service, city))
    found = [entries[key] for key in keys if key in entries]
    # Folded, so « Émile » sorts among the E, not after Z.
    return sorted(found, key=lambda e: (text.fold(e.last_name or e.name), text.fold(e.first_name)))
