"""What the sentences share: Telegram's length limits, and how dates, image counts, dollars,
choices and a user's own words are written."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_datetime

from bot.i18n import current, ngettext
from bot.i18n import gettext as _

__all__ = ["ECHO_LIMIT", "TELEGRAM_CAPTION_LIMIT", "TELEGRAM_TEXT_LIMIT"]

TELEGRAM_TEXT_LIMIT = 4096

TELEGRAM_CAPTION_LIMIT = 1024

# Of a user's own text quoted back: enough to recognise it, never enough to pass Telegram's limit.
ECHO_LIMIT = 40


def echo(given: str) -> str:
    return given if len(given) <= ECHO_LIMIT else given[:ECHO_LIMIT].rstrip() + "…"


def choices(allowed: tuple[str, ...]) -> str:
    return ", ".join(allowed)


def date_time(moment: datetime) -> str:
    # TRANSLATORS: a date pattern (https://babel.pocoo.org/en/latest/dates.html#pattern-syntax):
    # day, month name, time; words in it go between single quotes.
    return format_datetime(moment, _("d MMMM HH:mm"), locale=current().locale)


def dollars(amount: float) -> str:
    # The text model costs fractions of a cent: shown as such, not as $0.00.
    return f"{amount:.4f}" if 0 < amount < 0.01 else f"{amount:.2f}"


def count_images(count: int) -> str:
    return ngettext("{n} image", "{n} images", count).format(n=count)
