"""Presets: the built-in styles' names, /presets, /p and a chat's own presets."""

from __future__ import annotations

from bot.i18n import Text, ngettext
from bot.i18n import gettext as _

__all__ = [
    "PRESETS_ADMINS_ONLY",
    "PRESETS_INTRO",
    "PRESET_ANIME",
    "PRESET_AVATAR",
    "PRESET_COLORIZE",
    "PRESET_FIGURINE",
    "PRESET_INFOGRAPHIC",
    "PRESET_LOGO",
    "PRESET_PIXEL",
    "PRESET_POSTER",
    "PRESET_PRODUCT",
    "PRESET_RESTORE",
    "PRESET_STICKER",
    "PRESET_USAGE",
    "PRESET_WATERCOLOR",
    "preset_bad_name",
    "preset_bad_template",
    "preset_chosen",
    "preset_deleted",
    "preset_needs_text",
    "preset_not_found",
    "preset_saved",
    "too_many_presets",
    "unknown_preset",
]

# TRANSLATORS: the built-in presets' names, each one word: shown on the /presets buttons, and a
# user may type them after /p (as well as the English name).
PRESET_STICKER = Text("Sticker")
PRESET_AVATAR = Text("Avatar")
PRESET_POSTER = Text("Poster")
PRESET_FIGURINE = Text("Figurine")
PRESET_RESTORE = Text("Restore")
PRESET_COLORIZE = Text("Colorize")
PRESET_PRODUCT = Text("Product")
PRESET_WATERCOLOR = Text("Watercolor")
PRESET_ANIME = Text("Anime")
PRESET_PIXEL = Text("Pixel")
PRESET_INFOGRAPHIC = Text("Infographic")
PRESET_LOGO = Text("Logo")
PRESETS_INTRO = Text(
    "Presets: tap one, then send your prompt or photo, and I wrap it in the preset. "
    "Or in one line: /p NAME text, e.g. /p watercolor a harbour at dawn.\n"
    "Your own: /preset add NAME template with {text}, /preset del NAME."
)
PRESET_USAGE = Text(
    "Usage: /preset add NAME template with {text} (e.g. /preset add noir {text}, "
    "as a 1940s film noir still), or /preset del NAME."
)
PRESETS_ADMINS_ONLY = Text("Only this group's administrators can change its presets.")


def preset_chosen(name: str) -> str:
    return _("“{name}” chosen: it applies to your next prompt or photo.").format(name=name)


def preset_needs_text(name: str) -> str:
    return _("“{name}” needs a few words or a photo, e.g. /p {name} a red fox.").format(name=name)


def unknown_preset(name: str, names: list[str]) -> str:
    listed = ", ".join(names)
    if not name:
        return _("Which preset? /p NAME text, with one of: {names}.").format(names=listed)
    return _("There is no preset “{name}”. The presets: {names}.").format(name=name, names=listed)


def preset_saved(name: str) -> str:
    return _("Preset “{name}” saved: /p {name} text, or pick it in /presets.").format(name=name)


def preset_deleted(name: str) -> str:
    return _("Preset “{name}” deleted.").format(name=name)


def preset_not_found(name: str) -> str:
    return _("There is no preset “{name}” to delete.").format(name=name)


def preset_bad_name(max_chars: int) -> str:
    return ngettext(
        "A preset's name is one word of letters, digits and underscores, at most {n} character.",
        "A preset's name is one word of letters, digits and underscores, at most {n} characters.",
        max_chars,
    ).format(n=max_chars)


def preset_bad_template(max_chars: int) -> str:
    return ngettext(
        "A preset's template must contain {{text}}, where your words go, and be at most {n} "
        "character long.",
        "A preset's template must contain {{text}}, where your words go, and be at most {n} "
        "characters long.",
        max_chars,
    ).format(n=max_chars)


def too_many_presets(limit: int) -> str:
    return ngettext(
        "There can be at most {n} preset here. Delete one first: /preset del NAME.",
        "There can be at most {n} presets here. Delete one first: /preset del NAME.",
        limit,
    ).format(n=limit)
