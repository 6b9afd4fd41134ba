"""Inline mode: drawing from any chat with @bot prompt."""

from __future__ import annotations

from bot.i18n import Text
from bot.i18n import gettext as _

__all__ = [
    "INLINE_DESCRIPTION",
    "INLINE_OPEN_BOT",
    "INLINE_PRIVATE",
    "inline_drawing",
    "inline_start_first",
    "inline_title",
]

INLINE_DESCRIPTION = Text("With the settings of your private chat with me")
INLINE_OPEN_BOT = Text("Open the bot")
INLINE_PRIVATE = Text("This bot is private: tap to get your user id")


def inline_title(prompt: str) -> str:
    return _("Draw: {prompt}").format(prompt=prompt)


def inline_drawing(prompt: str) -> str:
    return _("Drawing: {prompt}…").format(prompt=prompt)


def inline_start_first(username: str) -> str:
    return _(
        "I can't send you the picture yet: open a chat with @{username}, press Start, "
        "then try again."
    ).format(username=username)
