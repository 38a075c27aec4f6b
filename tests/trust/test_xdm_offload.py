"""Archives read off the event loop, a bounded number at a time."""

from __future__ import annotations

import asyncio
import threading
import time

from tests.trust import xdm_samples as samples
from webmail import i18n
from webmail.trust import offload
from webmail.trust.xdm import read_archive


async def test_at_most_two_at_once_and_the_loop_keeps_running() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.create_task(ticker())
    await asyncio.gather(*(offload.run(work) for _ in range(10)))
    beat.cancel()
    assert peak == offload.WORKERS == 2
    assert ticks >= 15  # about 0.25 s of work, and the loop answered all along


async def test_the_request_language_goes_along() -> None:
    token = i18n.current_language.set("en")
    try:
        assert await offload.run(i18n.current_language.get) == "en"
    finally:
        i18n.current_language.reset(token)


async def test_reading_runs_there() -> None:
    archive = await offload.run(read_archive, samples.good_archive(1))
    assert archive.patient.family == "LEFÈVRE"
