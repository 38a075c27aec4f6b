"""Jinja2 templates: one environment, French source strings, gettext for English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.templating import Jinja2Templates, _TemplateResponse

from webmail import formatting, i18n, icons, rows, urls
from webmail.assets import STATIC_ASSETS
from webmail.mail.previews import previewable
from webmail.security.csrf import masked

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(("html",), default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Newstyle `_()` applies `%` formatting and marks its result safe: it is for constant
    # strings written in the template only. A variable goes through the `translated` filter.
    env.install_gettext_callables(i18n._, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["translated"] = i18n.shown
    env.filters["short_date"] = formatting.short_date
    env.filters["long_date"] = formatting.long_date
    env.filters["file_size"] = formatting.file_size
    env.filters["timestamp_date"] = formatting.timestamp_date
    env.filters["device"] = formatting.device
    env.globals.update(mail_url=urls.mail_url, message_url=urls.message_url, query=urls.query)
    env.globals.update(icon_markup=icons.icon, cached_row=rows.cached_row)
    env.globals["asset"] = STATIC_ASSETS.url
    env.globals["previewable"] = previewable  # the attachment list's "Aperçu"
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> _TemplateResponse:
    language = getattr(request.state, "language", "fr")
    i18n.current_language.set(language)
    full: dict[str, Any] = {
        "language": language,
        # Masked afresh in each answer: pages are compressed (see webmail.security.csrf).
        "csrf_token": masked(getattr(request.state, "csrf_token", "")),
        "user": getattr(request.state, "user", None),
        "identity": getattr(request.state, "identity", ""),
        "profession": getattr(request.state, "profession", ""),
        "idle_seconds": getattr(request.state, "idle_seconds", 0),
    }
    full.update(context or {})
    return templates.TemplateResponse(request, name, full, status_code=status_code, headers=headers)
