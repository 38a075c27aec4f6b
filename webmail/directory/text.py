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


# Clinicians name the practitioner, the directory names the discipline: « cardiologue » for
# « Cardiologie », « pédiatre » for « Pédiatrie », « généraliste » for « Médecine générale ».
_PRACTITIONER_ENDINGS = (("logue", "logie"), ("iatre", "iatrie"), ("aliste", "ale"))


def forms(word: str) -> list[str]:
    """The folded word, and the discipline it names when it names a practitioner."""
    found = [word]
    for ending, discipline in _PRACTITIONER_ENDINGS:
        if word.endswith(ending) and len(word) > len(ending) + 2:
            found.append(word[: -len(ending)] + discipline)
    return found


def begins_a_word(word: str, of: list[str]) -> bool:
    """Whether ``word``, or the discipline it names, begins one of the words ``of``."""
    return any(part.startswith(form) for form in forms(word) for part in of)
