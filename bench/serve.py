"""``python -m bench.serve PORT``: the webmail under uvicorn, as deployed, with two probes.

The settings come from the environment (MSS_*), as for ``python -m webmail``. Around the app:
the server time of every request (request in, last byte out) and the event loop's longest
stall, both handed out and reset by ``GET /_bench/take``, a path the benchmark alone uses
(this wrapper is never part of the application). The stall is measured twice by a task
sleeping 2 ms at a time: how late it woke (wall clock: what every other user waited,
including while the machine gave the process no core) and how much CPU the loop's thread
spent meanwhile (the loop's own work: what moving work off the loop can remove).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import uvicorn

from webmail.app import create_app
from webmail.ops import gc_tuning
from webmail.settings import Settings

TAKE = "/_bench/take"
TICK = 0.002


class Probed:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.samples: list[float] = []
        self.worst_stall = 0.0
        self.worst_cpu = 0.0
        self._probe: asyncio.Task[None] | None = None

    async def _watch_loop(self) -> None:
        while True:
            start, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(TICK)
            late = (time.perf_counter() - start - TICK) * 1000
            self.worst_stall = max(self.worst_stall, late)
            self.worst_cpu = max(self.worst_cpu, (time.thread_time() - cpu) * 1000)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._probe is None:
            self._probe = asyncio.get_running_loop().create_task(self._watch_loop())
        if scope["path"] == TAKE:
            await self._take(send)
            return
        start = time.perf_counter()
        await self.app(scope, receive, send)
        self.samples.append((time.perf_counter() - start) * 1000)

    async def _take(self, send: Any) -> None:
        taken = {"samples": self.samples, "stall": self.worst_stall, "cpu": self.worst_cpu}
        body = json.dumps(taken).encode()
        self.samples, self.worst_stall, self.worst_cpu = [], 0.0, 0.0
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    port = int(sys.argv[1])
    gc_tuning.enable()  # as python -m webmail does
    app = Probed(create_app(Settings.from_env(dict(os.environ))))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        access_log=False,
        server_header=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
