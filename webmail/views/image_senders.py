"""Remote images: "Afficher les images" for one message, "Toujours pour cet expéditeur", and
the account page's list to take that back.

The frame decides on its own (``frame_allows``): a page or a URL can ask for images, only
the server's list and the message's own headers grant them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webmail.errors import BadRequest, ServiceUnavailable, WebmailError
from webmail.mail.image_senders import ImageSenders, trusted_sender
from webmail.mail.mime import ParsedMessage
from webmail.views.common import (
    Authenticated,
    audit,
    folder_param,
    services,
    state_change,
    text_field,
    uid_param,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteImages:
    """What the reading page says about the message's remote images."""

    sender: str | None  # the address "Toujours pour cet expéditeur" would add; None: not offered
    always: bool  # the sender is on the user's list: the frame shows its images


def store(request: Request) -> ImageSenders:
    return ImageSenders(services(request).sessions.redis)


async def sender_of(request: Request, message: ParsedMessage) -> str | None:
    """The sender the user may trust with images, judged now (the whitelist may have changed
    since the address was added)."""
    source = services(request).trust
    if source is None:
        return trusted_sender(message, None)
    whitelist = await source.current()
    if whitelist is None:  # configured but not loaded: nobody is inside, nobody is trusted
        return None
    return trusted_sender(message, whitelist)


async def frame_allows(request: Request, auth: Authenticated, message: ParsedMessage) -> bool:
    """Whether the frame of this message loads remote images without being asked."""
    sender = await sender_of(request, message)
    if sender is None:
        return False
    try:
        return await store(request).allows(auth.user, sender)
    except RedisError:
        log.warning("image senders unavailable: images stay blocked")
        return False


async def for_page(request: Request, auth: Authenticated, message: ParsedMessage) -> RemoteImages:
    if not message.html:
        return RemoteImages(sender=None, always=False)
    sender = await sender_of(request, message)
    try:
        always = sender is not None and await store(request).allows(auth.user, sender)
    except RedisError:
        always = False
    return RemoteImages(sender=sender, always=always)


async def always_for_sender(request: Request) -> Response:
    """POST from the banner: the message's sender joins the list (read from the message, never
    from the form), then back to the message."""
    auth, form = await state_change(request)
    folder = folder_param(text_field(form, "folder", limit=600))
    uid = uid_param(text_field(form, "uid", limit=20))
    from webmail.views.message import open_message  # the reader builds on this module

    async with services(request).pool.use(auth.key, auth.user, auth.password) as session:
        message = (await open_message(session, folder, uid)).message
    sender = await sender_of(request, message)
    if sender is None:
        raise BadRequest(
            "L'adresse de cet expéditeur ne peut pas être vérifiée : ses images ne peuvent "
            "être affichées que message par message."
        )
    try:
        added = await store(request).add(auth.user, sender)
    except RedisError as error:
        raise ServiceUnavailable(
            "Ce choix n'a pas pu être enregistré. Réessayez dans quelques instants."
        ) from error
    if not added:
        raise WebmailError(
            "Votre liste d'expéditeurs dont les images sont affichées est pleine : retirez-en "
            "depuis la page Compte.",
            status=409,
        )
    audit(request, "image_sender_added", auth)
    query = urlencode({"folder": folder, "uid": uid}, quote_via=quote)
    return RedirectResponse("/mail/message?" + query, status_code=303)


async def take_back(request: Request) -> Response:
    """POST from the account page: "Retirer"."""
    auth, form = await state_change(request)
    sender = text_field(form, "sender", limit=400)
    try:
        await store(request).remove(auth.user, sender)
    except RedisError as error:
        raise ServiceUnavailable(
            "Ce choix n'a pas pu être enregistré. Réessayez dans quelques instants."
        ) from error
    audit(request, "image_sender_removed", auth)
    return RedirectResponse("/account?notice=images#image-senders", status_code=303)


async def listed(request: Request, auth: Authenticated) -> list[str] | None:
    """The account page's list; None when it cannot be read now."""
    try:
        return await store(request).senders(auth.user)
    except RedisError:
        return None
