"""What a locked user reads: when they may try again."""

from __future__ import annotations

import re
import time

from webmail.auth.throttle import Lock
from webmail.views.auth import locked_message


def test_a_lock_ending_today_gives_the_time() -> None:
    text = locked_message(Lock(time.time() + 60))
    assert re.search(r"après \d\d:\d\d:\d\d \(dans \d+ s\)", text)


def test_a_lock_ending_another_day_gives_the_date() -> None:
    text = locked_message(Lock(time.time() + 3 * 86400), account_wide=True)
    assert re.search(r"après \d\d/\d\d/\d{4} \d\d:\d\d ", text)
    assert "codes de secours" in text
