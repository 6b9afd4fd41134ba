"""/history: a user's last pictures in a chat."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import Text, ngettext
from bot.texts._shared import date_time

__all__ = [
    "HISTORY_EMPTY",
    "HISTORY_NOT_YOURS",
    "history_entry",
    "history_forgotten",
    "history_header",
]

HISTORY_EMPTY = Text("I keep none of your pictures in this chat.")
HISTORY_NOT_YOURS = Text("These pages are someone else's: send /history for yours.")


def history_header(count: int, page: int, pages: int) -> str:
    return ngettext(
        "Your last picture in this chat (page {page} of {pages}):",
        "Your last {n} pictures in this chat (page {page} of {pages}):",
        count,
    ).format(n=count, page=page, pages=pages)


def history_entry(number: int, prompt: str, at: datetime) -> str:
    short = prompt if len(prompt) <= 80 else prompt[:79] + "…"
    return f"{number}. {short} · {date_time(at)}"


def history_forgotten(count: int, days: int) -> str:
    return ngettext(
        "{n} older picture is forgotten: I keep pictures for {days} days.",
        "{n} older pictures are forgotten: I keep pictures for {days} days.",
        count,
    ).format(n=count, days=days)
