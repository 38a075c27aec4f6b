"""``mss-webmail whitelist import FILE``: check a downloaded whitelist, then put it in force.

The file is read once, checked, and those same bytes are written beside the configured path
and renamed over it (``os.replace``): the running webmail sees either the old list or the new
one, never half a file, and a refused file changes nothing. The webmail notices the new file
within a few seconds, without a restart.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from webmail.trust.whitelist import MAX_BYTES, Whitelist, WhitelistRefused, parse_bytes

# webmail.cli's Runner, not imported: webmail.cli imports this module.
Runner = Callable[[argparse.Namespace], int]

SETTING = "MSS_TRUST_WHITELIST"
REFUSED = 1
UNUSABLE_TARGET = 2
SHOWN_INVALID = 20


def register(parser: argparse.ArgumentParser) -> Runner:
    actions = parser.add_subparsers(dest="action", required=True)
    importing = actions.add_parser(
        "import",
        help="check a listeblanchemssante.xml and install it where the webmail reads it",
        description="Check FILE (the ANS's listeblanchemssante.xml) and install it atomically "
        f"at --target (default: ${SETTING}). Exit status 1 when the file is refused.",
    )
    importing.add_argument("file", type=Path, metavar="FILE")
    importing.add_argument(
        "--target", type=Path, default=None, help=f"where to install it (default: ${SETTING})"
    )
    return run_import


def run_import(args: argparse.Namespace) -> int:
    target: Path | None = args.target or _configured()
    if target is None:
        print(f"mss-webmail whitelist: {SETTING} is not set; give --target", file=sys.stderr)
        return UNUSABLE_TARGET
    try:
        data = _read(args.file)
        listed = parse_bytes(data)
    except WhitelistRefused as refused:
        print(f"mss-webmail whitelist: {args.file}: {refused}", file=sys.stderr)
        print("mss-webmail whitelist: nothing installed", file=sys.stderr)
        return REFUSED
    try:
        install(data, target)
    except OSError as error:
        print(
            f"mss-webmail whitelist: cannot install at {target}: {error.strerror or error}",
            file=sys.stderr,
        )
        return UNUSABLE_TARGET
    _report(listed, target)
    return 0


def _configured() -> Path | None:
    value = os.environ.get(SETTING, "").strip()
    return Path(value) if value else None


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)  # one byte more tells a file too large
    except OSError as error:
        raise WhitelistRefused(f"cannot read: {error.strerror or error}") from None
    return data


def install(data: bytes, target: Path) -> None:
    """``data`` at ``target`` in one rename, durable once this returns."""
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".new"
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # public data, read by the webmail's own user
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def _report(listed: Whitelist, target: Path) -> None:
    print(f"{len(listed)} domains installed at {target} (generated {listed.generated})")
    if listed.duplicates:
        print(f"{listed.duplicates} duplicate entries merged")
    if listed.invalid_count:
        print(f"{listed.invalid_count} invalid entries left out:")
        for bad in listed.invalid[:SHOWN_INVALID]:
            print(f"  Domaine #{bad.position}: {bad.reason}")
        if listed.invalid_count > SHOWN_INVALID:
            print(f"  ... and {listed.invalid_count - SHOWN_INVALID} more")
