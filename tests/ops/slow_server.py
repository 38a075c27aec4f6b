"""``python -m tests.ops.slow_server --port N``: the webmail whose message list takes 3 s.

For the graceful-shutdown test: a request is still in flight when SIGTERM comes.
"""

from __future__ import annotations

import asyncio
import sys

from starlette.requests import Request
from starlette.responses import Response

from webmail.__main__ import main
from webmail.views import mailbox

SLOW_SECONDS = 3.0
_message_list = mailbox.message_list


async def slow_message_list(request: Request) -> Response:
    response = await _message_list(request)
    await asyncio.sleep(SLOW_SECONDS)
    return response


if __name__ == "__main__":
    mailbox.message_list = slow_message_list
    sys.exit(main(sys.argv[1:]))
