"""A chat's settings: /settings, /ratio, /size, /format and /model."""

from __future__ import annotations

from bot.i18n import Text
from bot.i18n import gettext as _
from bot.texts._shared import choices, echo

__all__ = [
    "FORMAT",
    "MODEL",
    "RATIO",
    "SETTINGS_ADMINS_ONLY",
    "SIZE",
    "setting_changed",
    "setting_current",
    "setting_fell_back",
    "setting_unknown",
    "setting_unsupported",
    "settings_overview",
]

SETTINGS_ADMINS_ONLY = Text("Only this group's administrators can change its settings.")


# The settings, as their sentences name them.
RATIO = Text("aspect ratio")
SIZE = Text("size")
FORMAT = Text("result format")
MODEL = Text("model")


def setting_current(label: str, value: str, allowed: tuple[str, ...], example: str) -> str:
    return _(
        "Current {label}: {value}\nAllowed: {allowed}\nTap a button or type, e.g., {example}"
    ).format(label=label, value=value, allowed=choices(allowed), example=example)


def settings_overview(model: str, ratio: str, size: str, output_format: str) -> str:
    return _(
        "This chat's settings:\n"
        "Model: {model}\nAspect ratio: {ratio}\nSize: {size}\nResults as: {output_format}\n\n"
        "Change them with /model, /ratio, /size and /format."
    ).format(model=model, ratio=ratio, size=size, output_format=output_format)


def setting_fell_back(label: str, old: str, new: str, model: str) -> str:
    return _("{model} can't do the {label} {old}, so this chat now uses {new}.").format(
        model=model, label=label, old=old, new=new
    )


def setting_changed(label: str, value: str) -> str:
    return _("Done: the {label} is now {value}. It applies to every image in this chat.").format(
        label=label, value=value
    )


def setting_unknown(label: str, given: str, allowed: tuple[str, ...]) -> str:
    return _("“{given}” is not a valid {label}. Choose one of: {allowed}").format(
        given=echo(given), label=label, allowed=choices(allowed)
    )


def setting_unsupported(label: str, value: str, model: str, allowed: tuple[str, ...]) -> str:
    return _("{model} can't make the {label} {value}. It can do: {allowed}").format(
        model=model, label=label, value=value, allowed=choices(allowed)
    )
