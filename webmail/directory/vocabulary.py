"""Professions and specialties: a closed list of labels, matched in memory, not by full text.

A few hundred labels stand for a million rows, and some are on half of them ("Médecin",
"Médecine générale"): as full-text words, a prefix query ("médec") would read their postings
whole. Each label is instead one token of the index's labels column ("s12": its id), and a
typed word that begins a word of a label asks for those tokens exactly.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from webmail.directory.text import begins_a_word, words

PREFIXES = {"profession": "p", "specialty": "s"}


@dataclass(frozen=True)
class Label:
    token: str
    label: str
    words: list[str]


class Vocabulary:
    def __init__(self, labels: list[Label]) -> None:
        self.labels = labels

    @classmethod
    def load(cls, db: sqlite3.Connection) -> Vocabulary:
        rows = db.execute("SELECT id, kind, label FROM vocabulary").fetchall()
        return cls(
            [
                Label(f"{PREFIXES[kind]}{number}", label, words(label))
                for number, kind, label in rows
                if kind in PREFIXES
            ]
        )

    def tokens(self, word: str) -> list[str]:
        """The tokens of the labels that ``word`` (folded) begins a word of."""
        return [label.token for label in self.labels if begins_a_word(word, label.words)]
