"""What any chat meets: /help, the command menu, unknown commands and buttons, our own errors."""

from __future__ import annotations

from bot.i18n import Text
from bot.i18n import gettext as _

__all__ = [
    "COMMANDS",
    "HELP",
    "HELP_STUDIO",
    "HELP_TOGETHER",
    "UNEXPECTED_ERROR",
    "UNKNOWN_BUTTON",
    "UNKNOWN_COMMAND",
    "button_choice_gone",
    "help_text",
]

HELP = Text("""\
I draw pictures with Google's Gemini image models.

• Send me a description and I reply with an image.
• Send a photo (or an image file) with a caption saying what to change, and I edit it.
• Reply to any photo, or to one of my pictures, to edit it; keep replying to refine it.
• Send an album with a caption to combine several photos.
• In a group, mention me (@{username}) or reply to me.

/ratio - aspect ratio (e.g. /ratio 16:9)
/size - resolution (e.g. /size 2K)
/format - send results as photos or as files
/model - the image model
/settings - this chat's settings
/usage - your images and spend
/cancel - stop your picture in progress
/language - the language I speak with you
/help - this message""")


HELP_TOGETHER = Text("""\
Working on a picture together:
• Replying to one of my pictures continues its conversation: I remember the earlier turns.
• /mode chat - every message continues the conversation, until /new
• /ref add NAME - as a reply to a photo: save it; then write #NAME in a prompt to use it, \
#me for your profile photo. /refs lists them.""")


HELP_STUDIO = Text("""\
Iterating on a picture:
• More… under a picture: variations, a remix, zoom out and pan, the original file, a sticker, \
✨ Enhance.
• /presets - ready-made styles for your next prompt; /p NAME text uses one at once
• /describe - as a reply to a photo: a prompt that would draw it
• /enhance a short prompt - I make it detailed
• /history - your last pictures in this chat""")


def help_text(username: str) -> str:
    return f"{HELP().format(username=username)}\n\n{HELP_TOGETHER()}\n\n{HELP_STUDIO()}"


# The menu Telegram shows, set for each language at start: (command, description).
COMMANDS: tuple[tuple[str, Text], ...] = (
    ("ratio", Text("Show or set the aspect ratio, e.g. /ratio 16:9")),
    ("size", Text("Show or set the resolution: 512, 1K, 2K or 4K")),
    ("format", Text("Send results as photos or as files")),
    ("model", Text("Show or set the image model")),
    ("settings", Text("This chat's settings")),
    ("usage", Text("Your images and spend, and what is left")),
    ("cancel", Text("Stop your picture in progress")),
    ("history", Text("Your last pictures in this chat")),
    ("describe", Text("Reply to a photo: a prompt that would draw it")),
    ("enhance", Text("Make a short prompt detailed, e.g. /enhance a fox")),
    ("mode", Text("Each message on its own, or a conversation: /mode chat")),
    ("new", Text("Start a new conversation")),
    ("refs", Text("Your saved pictures, to use as #name in a prompt")),
    ("language", Text("Choose the language I speak with you")),
    ("presets", Text("Ready-made styles: sticker, poster, anime…")),
    ("p", Text("Use a preset at once, e.g. /p watercolor a harbour")),
    ("help", Text("What I do and how to use me")),
)


UNKNOWN_COMMAND = Text("I don't know that command. Send /help to see what I can do.")
UNEXPECTED_ERROR = Text("Sorry, something went wrong on my side. Please try again in a moment.")


# Answers to a button tap (Telegram shows at most 200 characters).
UNKNOWN_BUTTON = Text(
    "This button isn't one of mine, or is out of date. Send /settings to start again."
)


def button_choice_gone(label: str, command: str) -> str:
    return _("That {label} can't be chosen now. Send /{command} for the current choices.").format(
        label=label, command=command
    )
