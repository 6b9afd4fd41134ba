"""A picture's way through the queue: its place, its progress, cancelling it, a restart."""

from __future__ import annotations

from bot.i18n import Text, ngettext
from bot.i18n import gettext as _

__all__ = [
    "CANCELLED",
    "CANCELLED_PAID",
    "CANCEL_BUTTON",
    "INTERRUPTED",
    "NOTHING_TO_CANCEL",
    "NOTHING_TO_CANCEL_HERE",
    "NOT_YOURS_TO_CANCEL",
    "drawing",
    "queued",
]

INTERRUPTED = Text("The bot restarted while working on this. Please send it again.")
CANCELLED = Text("Cancelled.")
CANCELLED_PAID = Text("Stopped. This one still counts: its picture was already being made.")
NOTHING_TO_CANCEL = Text("You have no picture in progress here.")
NOTHING_TO_CANCEL_HERE = Text("That picture is already done or cancelled.")
NOT_YOURS_TO_CANCEL = Text("Only the person who asked for this picture can cancel it.")
CANCEL_BUTTON = Text("Cancel")


def queued(ahead: int) -> str:
    if ahead == 0:
        return _("Queued: you're next.")
    return ngettext("Queued: {n} ahead of you.", "Queued: {n} ahead of you.", ahead).format(n=ahead)


def drawing(seconds: float) -> str:
    return _("Drawing… {seconds} s").format(seconds=f"{seconds:.0f}")
