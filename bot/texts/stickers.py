"""Stickers: making one of a picture, and the user's sticker set."""

from __future__ import annotations

from bot.i18n import Text
from bot.i18n import gettext as _

__all__ = [
    "STICKER_ADDED",
    "STICKER_BUTTON",
    "STICKER_FAILED",
    "sticker_set_link",
    "sticker_set_title",
    "sticker_start_first",
]

STICKER_BUTTON = Text("🧩 Sticker")
STICKER_ADDED = Text("Added to your sticker set.")
STICKER_FAILED = Text("I couldn't make a sticker of this picture. Please try again later.")


def sticker_set_link(link: str) -> str:
    return _("Your sticker is in your set: {link}").format(link=link)


def sticker_start_first(username: str) -> str:
    return _(
        "To give you stickers I need a private chat with you: open @{username}, press Start, "
        "then tap again."
    ).format(username=username)


def sticker_set_title(username: str, number: int) -> str:
    title = _("Pictures from @{username}").format(username=username)
    return title if number == 1 else f"{title} {number}"
