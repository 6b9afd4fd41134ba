"""The text model's answers: /describe and /enhance, and their buttons."""

from __future__ import annotations

from bot.i18n import Text

__all__ = ["COPY_BUTTON", "DESCRIBE_USAGE", "DRAW_BUTTON", "ENHANCE_USAGE"]

DRAW_BUTTON = Text("🎨 Draw this")
COPY_BUTTON = Text("📋 Copy")
DESCRIBE_USAGE = Text(
    "Send /describe as a reply to a photo, or send a photo with the caption /describe, and I'll "
    "write a prompt that would draw it."
)
ENHANCE_USAGE = Text(
    "Write a short prompt after the command, e.g. /enhance a fox in the snow, and I'll make it "
    "a detailed one."
)
