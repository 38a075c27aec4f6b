"""CPU-heavy reading (unzipping, XML) off the event loop, a few at a time.

A dedicated pool bounds the work: however many archives are opened at once, at most
``WORKERS`` are being decompressed, and the event loop keeps serving every other request.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

WORKERS = 2
_POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mss-xdm")

P = ParamSpec("P")
T = TypeVar("T")


async def run(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    # The context goes along: the language of the request decides the texts made there.
    context = contextvars.copy_context()
    call = functools.partial(context.run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_POOL, call)
