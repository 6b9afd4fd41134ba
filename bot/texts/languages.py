"""/language: the language I speak with each user."""

from __future__ import annotations

from bot.i18n import Text
from bot.i18n import gettext as _
from bot.texts._shared import choices, echo

__all__ = [
    "LANGUAGE_AUTOMATIC",
    "LANGUAGE_BUTTON_UNKNOWN",
    "language_changed",
    "language_current",
    "language_unknown",
]


def language_current(name: str, automatic: bool) -> str:
    if automatic:
        intro = _("I speak {language} with you, as your Telegram app does.")
    else:
        intro = _("I speak {language} with you, as you chose.")
    return (
        intro.format(language=name)
        + "\n"
        + _(
            "Tap a language, or type it, e.g. /language es. "
            "/language auto follows your Telegram app again."
        )
    )


def language_changed(name: str, automatic: bool) -> str:
    if automatic:
        return _("Done: I follow your Telegram app's language again ({language}).").format(
            language=name
        )
    return _("Done: from now on I speak {language} with you.").format(language=name)


def language_unknown(given: str, codes: tuple[str, ...]) -> str:
    return _("I don't speak “{given}”. Choose one of: {codes}").format(
        given=echo(given), codes=choices(codes)
    )


LANGUAGE_AUTOMATIC = Text("Automatic (as in Telegram)")
LANGUAGE_BUTTON_UNKNOWN = Text("That isn't a language I speak. Send /language for the choices.")
