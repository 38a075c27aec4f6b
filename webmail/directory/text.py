"""Text as the index sees it: case and accents folded, cut into words of letters and digits
(as FTS5's ``unicode61 remove_diacritics 2`` tokenizer does)."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """« Lefèvre » → « lefevre »: lower case, accents removed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """« Gynécologie-obstétrique » → ["gynecologie", "obstetrique"]."""
    return "".join(c if c.isalnum() else " " for c in fold(text)).split()


def begins_a_word(word: str, of: list[str]) -> bool:
    return any(part.startswith(word) for part in of)
