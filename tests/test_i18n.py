"""Every French string of the interface has its English translation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from tests.conftest import ROOT


def test_english_catalog_covers_every_string(tmp_path: Path) -> None:
    keywords = re.search(r"pybabel extract -F babel.cfg (.*?) --no-location",
                         (ROOT / "Makefile").read_text()).group(1).split()
    template = tmp_path / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg",
         *keywords, "--no-location", "-o", str(template), "."],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )
    with template.open("rb") as handle:
        wanted = {message.id for message in read_po(handle) if message.id}
    with (ROOT / "webmail/locale/en/LC_MESSAGES/messages.po").open("rb") as handle:
        english = {message.id: message.string for message in read_po(handle) if message.id}
    missing = [m for m in wanted if m not in english or not all(
        english[m] if isinstance(english[m], tuple) else [english[m]])]
    assert missing == [], "run `make translations` and translate: " + repr(missing[:5])
