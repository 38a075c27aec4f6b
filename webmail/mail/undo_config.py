"""How long a move or a deletion can be undone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UndoConfig:
    # The notice with its Annuler button stays this long; the server forgets the undo after.
    seconds: int = 10
