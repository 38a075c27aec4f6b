"""Where the directory index lives (``MSS_DIRECTORY_INDEX``, else under ``MSS_DATA_DIR``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

INDEX_VARIABLE = "MSS_DIRECTORY_INDEX"
DEFAULT_NAME = "annuaire.sqlite"


@dataclass(frozen=True)
class DirectoryConfig:
    # The SQLite index `mss-webmail directory import` builds; it need not exist yet (the
    # webmail then says the directory is unavailable).
    index: Path


def directory_config(env: Mapping[str, str]) -> DirectoryConfig | None:
    """The configured index path; None when neither variable says where it is."""
    value = env.get(INDEX_VARIABLE, "").strip()
    if value:
        return DirectoryConfig(Path(value))
    data_dir = env.get("MSS_DATA_DIR", "").strip()
    return DirectoryConfig(Path(data_dir) / DEFAULT_NAME) if data_dir else None
