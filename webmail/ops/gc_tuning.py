"""The garbage collector in a serving process: what start-up built is set aside once.

A full collection walks every container object the process holds. In a serving process most of
them are built at start (modules, templates, translations, the static bundles) and live as long
as the process: measured under ``make bench``, full collections then stalled the event loop for
40-90 ms, every user of the process waiting meanwhile. ``gc.freeze()`` after start moves those
objects out of the collector's sight, which roughly halved the pauses. Only the server's entry
point turns it on: a test process creates hundreds of apps, and freezing each one's leftovers
would keep them for good.
"""

from __future__ import annotations

import gc

_enabled = False


def enable() -> None:
    """Called by the server's entry point, before the app starts."""
    global _enabled
    _enabled = True


def settle() -> None:
    """Once start-up is done: collect what it left, then freeze what remains."""
    if _enabled:
        gc.collect()
        gc.freeze()
