"""Dates and sizes as a French reader expects them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime

from webmail.i18n import current_language

PARIS = ZoneInfo("Europe/Paris")


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@dataclass(frozen=True)
class _ShortDates:
    """What a list date needs of one language, looked up once: Babel's pattern formatting
    costs more than the rest of a row."""

    months: tuple[str, ...]  # abbreviated ("janv.", "févr."), January first
    yesterday: str


@cache
def _short_dates(language: str) -> _ShortDates:
    names = _locale(language).months["format"]["abbreviated"]
    return _ShortDates(
        months=tuple(str(names[month]) for month in range(1, 13)),
        yesterday={"fr": "hier", "en": "yesterday"}.get(language, "hier"),
    )


def short_date(value: datetime | None, now: datetime | None = None) -> str:
    """Time today, "hier", day and month this year, full date before ("14:05", "3 mars")."""
    if value is None:
        return ""
    local = value.astimezone(PARIS)
    now = (now or datetime.now(PARIS)).astimezone(PARIS)
    words = _short_dates(current_language.get())
    if local.date() == now.date():
        return f"{local.hour:02d}:{local.minute:02d}"  # Babel's "HH:mm"
    if local.date() == (now - timedelta(days=1)).date():
        return words.yesterday
    if local.year == now.year:
        return f"{local.day} {words.months[local.month - 1]}"  # "d MMM"
    return f"{local.day:02d}/{local.month:02d}/{local.year:04d}"  # "dd/MM/yyyy"


def long_date(value: datetime | None) -> str:
    if value is None:
        return ""
    return format_datetime(
        value.astimezone(PARIS),
        "EEEE d MMMM yyyy 'à' HH:mm"
        if current_language.get() == "fr"
        else "EEEE d MMMM yyyy, HH:mm",
        locale=current_language.get(),
    )


def file_size(size: int) -> str:
    french = current_language.get() == "fr"
    units = ("o", "Ko", "Mo", "Go") if french else ("B", "KB", "MB", "GB")
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            text = f"{value:.0f}" if unit == units[0] else f"{value:.1f}"
            return (text.replace(".", ",") if french else text) + "\u00a0" + unit
        value /= 1024
    return str(size)


def timestamp_date(value: float) -> str:
    return format_datetime(
        datetime.fromtimestamp(value, PARIS), "dd/MM/yyyy HH:mm", locale=current_language.get()
    )


_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "Mac"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)


def device(user_agent: str) -> str:
    """ "Chrome, Android" from a User-Agent: enough to recognise one's own devices."""
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    if not system and not browser:
        return {"fr": "Appareil inconnu", "en": "Unknown device"}.get(
            current_language.get(), "Appareil inconnu"
        )
    return ", ".join(part for part in (browser, system) if part)
