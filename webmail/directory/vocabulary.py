"""Professions and specialties: a closed list of labels, matched in memory, not by full text.

A few hundred labels stand for a million rows, and some are on half of them ("Médecin",
"Médecine générale"): as full-text terms their postings would be read whole for every query
that mentions them. Instead a typed word that begins a word of a label becomes a filter on
that column, which SQLite answers from an index.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from webmail.directory.text import begins_a_word, words

COLUMNS = ("profession", "specialty")


@dataclass(frozen=True)
class Label:
    column: str
    label: str
    words: list[str]


class Vocabulary:
    def __init__(self, labels: list[Label]) -> None:
        self.labels = labels

    @classmethod
    def load(cls, db: sqlite3.Connection) -> Vocabulary:
        rows = db.execute("SELECT kind, label FROM vocabulary").fetchall()
        return cls([Label(kind, label, words(label)) for kind, label in rows if kind in COLUMNS])

    def matching(self, word: str) -> dict[str, list[str]]:
        """column → the labels that ``word`` (already folded) begins a word of."""
        found: dict[str, list[str]] = {}
        for label in self.labels:
            if begins_a_word(word, label.words):
                found.setdefault(label.column, []).append(label.label)
        return found
