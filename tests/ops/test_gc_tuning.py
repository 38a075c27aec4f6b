"""The collector is tuned in a serving process only, never in one that builds many apps."""

from __future__ import annotations

import subprocess
import sys

SNIPPET = """
import gc
from webmail.ops import gc_tuning
{switch}
gc_tuning.settle()
print(gc.get_freeze_count())
"""


def frozen_after_settle(switch: str) -> int:
    code = SNIPPET.format(switch=switch)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_serving_process_sets_its_start_up_objects_aside() -> None:
    assert frozen_after_settle("gc_tuning.enable()") > 1000


def test_without_the_server_entry_point_nothing_is_frozen() -> None:
    assert frozen_after_settle("") == 0
