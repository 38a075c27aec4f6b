"""The list's order (a choice kept per account) and search in one folder or all of them."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.errors import BadRequest
from webmail.mail import mailbox
from webmail.urls import local_path
from webmail.views.common import services, state_change, text_field

log = logging.getLogger(__name__)

# One small hash per account: the list's order survives logout and other instances.
PREFERENCES_PREFIX = "mss:prefs:"


async def list_order(request: Request, user: str) -> str:
    """The account's chosen order; by date when none was chosen or Redis cannot say."""
    try:
        value = await services(request).sessions.redis.hget(PREFERENCES_PREFIX + user, "order")
    except RedisError:
        log.warning("list order unreadable, by date meanwhile")
        return mailbox.BY_DATE
    text = value.decode() if isinstance(value, bytes) else value
    return text if text in mailbox.ORDERS else mailbox.BY_DATE


async def choose_order(request: Request) -> Response:
    """POST /mail/order: by date or by arrival, for every folder of the account."""
    auth, form = await state_change(request)
    order = text_field(form, "order")
    if order not in mailbox.ORDERS:
        raise BadRequest("Ordre de tri inconnu.")
    await services(request).sessions.redis.hset(PREFERENCES_PREFIX + auth.user, "order", order)
    return RedirectResponse(local_path(text_field(form, "next")), status_code=303)


async def search_page(request: Request) -> Response:
    raise BadRequest("Recherche indisponible.")
