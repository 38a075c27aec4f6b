"""Static files under names that carry a hash of their content, built in memory.

Pages load one stylesheet and one script: each bundle is its source files joined in a fixed
order (the sources stay separate, to be edited apart). A hashed name never changes content, so
browsers keep it for a year without asking again; a new release has new names. Any other file
of ``static/`` (icons, the manifest) gets a hashed name the same way. Unhashed names are still
served, briefly cached: nginx serves those from disk, and a page from before a release asks
for them.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import brotli

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# The bundles and the order of their parts: htmx first, the app's scripts rely on it (pane.js
# takes the back button before htmx does: htmx listens only once the document is ready).
BUNDLES: dict[str, tuple[str, ...]] = {
    "app.css": ("app.css", "directory.css"),
    "app.js": (
        "htmx.min.js",
        "app.js",
        "recipients.js",
        "live.js",
        "triage.js",
        "compose.js",
        "pane.js",
        "keys.js",
    ),
}
# Between two scripts a newline and a semicolon: a file ending in a comment or without its
# last semicolon must not run into the next one.
SEPARATORS = {".js": b"\n;\n", ".css": b"\n"}

IMMUTABLE = "public, max-age=31536000, immutable"
BRIEFLY = "public, max-age=300"
HASH_LENGTH = 10
# stem.0123abcd45.ext: what nginx's hashed-name location matches too (8+ hex digits).
HASHED_NAME = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{8,})(?P<suffix>\.[a-z0-9]+)$")
_TEXT_TYPES = ("text/", "application/javascript", "application/manifest+json", "image/svg+xml")


@dataclass(frozen=True)
class Asset:
    """One file or bundle as served: its bytes, and the same compressed once, at build time."""

    name: str  # the logical name, e.g. "app.js"
    digest: str
    body: bytes
    media_type: str
    compressible: bool
    gzipped: bytes
    brotli: bytes

    @property
    def hashed_name(self) -> str:
        path = PurePosixPath(self.name)
        return str(path.with_name(f"{path.stem}.{self.digest}{path.suffix}"))

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'

    def encoded(self, encoding: str | None) -> bytes:
        return {"br": self.brotli, "gzip": self.gzipped}.get(encoding or "", self.body)


def media_type(name: str) -> str:
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if guessed == "text/javascript":
        guessed = "application/javascript"  # one name for it, here and in nginx
    return f"{guessed}; charset=utf-8" if guessed.startswith(_TEXT_TYPES) else guessed


def build(name: str, body: bytes) -> Asset:
    """Compressed at the highest levels: done once per release, paid back on every visit."""
    compressible = media_type(name).startswith(_TEXT_TYPES)
    return Asset(
        name=name,
        digest=hashlib.sha256(body).hexdigest()[:HASH_LENGTH],
        body=body,
        media_type=media_type(name),
        compressible=compressible,
        gzipped=gzip.compress(body, 9, mtime=0) if compressible else body,
        brotli=brotli.compress(body, quality=11) if compressible else body,
    )


class Assets:
    """The hashed names of one static directory, each built at its first use and kept."""

    def __init__(self, directory: Path = STATIC_DIR, bundles: dict[str, tuple[str, ...]] = BUNDLES):
        self.directory = directory.resolve()
        self.bundles = bundles
        self._built: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Builds the bundles now, at start: compressing them at the highest levels takes a
        good fraction of a second, which the first visitor must not wait for."""
        for name in self.bundles:
            self.url(name)

    def url(self, name: str) -> str:
        """The hashed URL of a bundle or file (the `asset()` of templates)."""
        found = self.get(name)
        if found is None:
            raise LookupError(f"no static file {name!r}")
        return f"/static/{found.hashed_name}"

    def get(self, name: str) -> Asset | None:
        with self._lock:
            if name not in self._built:
                body = self._read(name)
                if body is None:
                    return None
                self._built[name] = build(name, body)
            return self._built[name]

    def by_hashed_name(self, hashed: str) -> tuple[Asset, bool] | None:
        """The asset a hashed name stands for, and whether the hash is the current one (a
        page of another release, or of another instance mid-upgrade, may ask for another)."""
        match = HASHED_NAME.match(hashed)
        if match is None:
            return None
        found = self.get(match["stem"] + match["suffix"])
        return None if found is None else (found, found.digest == match["hash"])

    def _read(self, name: str) -> bytes | None:
        if name in self.bundles:
            parts = [self._file(part) for part in self.bundles[name]]
            if any(part is None for part in parts):
                raise LookupError(f"a part of the bundle {name!r} is missing")
            separator = SEPARATORS.get(PurePosixPath(name).suffix, b"\n")
            return separator.join(part for part in parts if part is not None)
        return self._file(name)

    def _file(self, name: str) -> bytes | None:
        path = (self.directory / name).resolve()
        # Only files inside the directory: a name is what a client asked for.
        if not path.is_relative_to(self.directory) or not path.is_file():
            return None
        return path.read_bytes()


STATIC_ASSETS = Assets()
