"""A message laid out for paper: its headers and its body, without the application around it.

An HTML mail is shown in a frame on the reading page, and Chromium prints a frame as one box
cut at the end of the first sheet: the print view therefore puts the sanitised body in the
page itself. Its own policy lets nothing load but our images (remote images stay blocked on
paper too) and lets no script run but ours (``window.print()`` from app.js).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from webmail import i18n
from webmail.mail import mime
from webmail.templating import render
from webmail.views.common import audit, authenticated, folder_param, services, uid_param
from webmail.views.message import _sanitize as sanitized
from webmail.views.message import open_message

PRINT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


async def print_message(request: Request) -> Response:
    auth = await authenticated(request)
    folder = folder_param(request.query_params.get("folder"))
    uid = uid_param(request.query_params.get("uid"))
    async with services(request).pool.use(auth.key, auth.user, auth.password) as session:
        message = (await open_message(session, folder, uid)).message
    audit(request, "message_read", auth, folder=folder, uid=uid, via="print")
    body = ""
    if message.html:

        def cid_url(content_id: str) -> str | None:
            part = message.inline_images.get(content_id)
            if part is None:
                return None
            query = urlencode({"folder": folder, "uid": uid, "part": part}, quote_via=quote)
            return "/mail/inline?" + query

        body = (await sanitized(message.html, cid_url)).html
    response = render(
        request,
        "pages/print.html",
        {
            "message": message,
            "subject": mime.display_subject(message.subject) or i18n._("(sans objet)"),
            "html_body": body,
            "auto": request.query_params.get("auto") == "1",
            "back_url": "/mail/message?" + urlencode({"folder": folder, "uid": uid}),
        },
    )
    response.headers["content-security-policy"] = PRINT_CSP
    return response
