"""``mss-webmail directory import FILE``: the operator's import of the ANS extraction."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from webmail.directory.config import INDEX_VARIABLE, directory_config
from webmail.directory.importer import ImportBusy, ImportRefused, ImportReport, import_file

EXIT_REFUSED = 1
EXIT_BUSY = 75  # EX_TEMPFAIL: cron may simply try again later
EXIT_USAGE = 2
BAR_WIDTH = 30


def register(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The ``directory`` subcommand's arguments; returns the function that runs it."""
    actions = parser.add_subparsers(dest="directory_action", required=True, metavar="ACTION")
    load = actions.add_parser(
        "import",
        help="build the directory index from an Extraction_Correspondance_MSSante_*.txt file",
        description="Build the directory index from the ANS extraction and swap it in; "
        "the webmail keeps searching the previous index until the new one is complete.",
    )
    load.add_argument("file", type=Path, help="the extraction file (UTF-8, |-separated)")
    load.add_argument(
        "--index",
        type=Path,
        help=f"the index to replace (default: ${INDEX_VARIABLE}, else annuaire.sqlite "
        "in $MSS_DATA_DIR)",
    )
    return run


def run(args: argparse.Namespace) -> int:
    index = args.index or _configured_index()
    if index is None:
        print(
            f"mss-webmail: say where the index goes: --index, {INDEX_VARIABLE} or MSS_DATA_DIR",
            file=sys.stderr,
        )
        return EXIT_USAGE
    bar = ProgressBar(sys.stderr)
    try:
        report = import_file(args.file, index, bar.update)
    except ImportBusy as busy:
        bar.clear()
        print(f"mss-webmail: {busy}; nothing changed", file=sys.stderr)
        return EXIT_BUSY
    except ImportRefused as refused:
        bar.clear()
        print(f"mss-webmail: {args.file} refused: {refused}; the index is unchanged",
              file=sys.stderr)  # fmt: skip
        return EXIT_REFUSED
    bar.clear()
    print(summary(report, index), file=sys.stderr)
    return 0


def _configured_index() -> Path | None:
    config = directory_config(os.environ)
    return config.index if config is not None else None


def summary(report: ImportReport, index: Path) -> str:
    lines = [
        f"{report.rows} mailboxes imported into {index} in {report.seconds:.1f} s; "
        f"{report.malformed} malformed line(s) skipped"
    ]
    for number, reason in report.malformed_lines:
        lines.append(f"  line {number}: {reason}")
    if report.malformed > len(report.malformed_lines):
        lines.append(f"  ... and {report.malformed - len(report.malformed_lines)} more")
    return "\n".join(lines)


class ProgressBar:
    """One line redrawn in place on a terminal; on a log (cron), a line every 10 %."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.shown_tenth = -1
        self.drawn_at = 0.0

    def update(self, done: int, total: int, rows: int) -> None:
        fraction = done / total if total else 0.0
        if self.tty:
            now = time.monotonic()
            if now - self.drawn_at < 0.1 and done < total:
                return
            self.drawn_at = now
            filled = int(fraction * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {fraction:4.0%} {rows} rows")
            self.stream.flush()
        elif int(fraction * 10) > self.shown_tenth:
            self.shown_tenth = int(fraction * 10)
            self.stream.write(f"{fraction:.0%} read, {rows} rows\n")
            self.stream.flush()

    def clear(self) -> None:
        if self.tty and self.drawn_at:
            self.stream.write("\r" + " " * (BAR_WIDTH + 30) + "\r")
            self.stream.flush()
