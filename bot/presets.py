"""Presets: prompt templates with {text} (the built-in library, users' and groups' own), how a
typed name finds one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot import texts
from bot.i18n import Text

PLACEHOLDER = "{text}"
# Stands for the missing words when a preset wraps a photo sent without any.
_PHOTO_SUBJECT = "the subject of the attached photo"
# A user's or group's own: a name of letters, digits and underscores, short enough that its
# button's data ("pst|u|" + name) stays within Telegram's 64 bytes.
NAME_MAX_CHARS = 24
_NAME_MAX_BYTES = 48
_NAME = re.compile(r"[^\W_]\w*")
TEMPLATE_MAX_CHARS = 1000
MAX_OWN_PRESETS = 20
# Direction marks that right-to-left catalogs put around words (bot/i18n.py).
_MARKS = str.maketrans("", "", "\u200e\u200f")


class PresetSource(StrEnum):
    """Where a preset is kept: the built-in library, the user's own, or the group's."""

    BUILTIN = "b"
    USER = "u"
    CHAT = "c"


@dataclass(frozen=True, slots=True)
class Preset:
    """A prompt template; `filler` takes the place of {text} when a photo comes without words."""

    name: str
    template: str
    label: Text | None = None  # built-ins: the name in the user's language
    filler: str = _PHOTO_SUBJECT

    @property
    def shown(self) -> str:
        """The name as the user reads it: translated for a built-in."""
        return self.label() if self.label else self.name

    def wrap(self, text: str, with_images: bool) -> str:
        words = text or (self.filler if with_images else "")
        return " ".join(self.template.replace(PLACEHOLDER, words).split())


# The built-in library. The templates speak to the model, in English; {text} is the user's words.
BUILTIN: tuple[Preset, ...] = (
    Preset(
        "sticker",
        "A die-cut sticker of {text}: bold clean outlines, a thick white border around the "
        "subject, vivid flat colors, centered with empty space around it, on a plain flat "
        "uniform pure green (#00FF00) background without shadow, gradient or texture.",
        texts.PRESET_STICKER,
    ),
    Preset(
        "avatar",
        "A profile picture of {text}: head and shoulders, centered, looking at the viewer, "
        "soft even light, a simple clean background, square composition.",
        texts.PRESET_AVATAR,
    ),
    Preset(
        "poster",
        "A striking poster of {text}: bold composition, dramatic lighting, room for a title at "
        "the top, print-ready.",
        texts.PRESET_POSTER,
    ),
    Preset(
        "figurine",
        "A photo of a collectible figurine of {text}: a detailed painted PVC figure on a round "
        "base, standing on a desk next to its retail box, soft studio light, realistic.",
        texts.PRESET_FIGURINE,
    ),
    Preset(
        "restore",
        "Restore this old photograph. {text} Remove scratches, dust, stains and creases, fix the "
        "fading, sharpen the details, and keep every face and detail as it is.",
        texts.PRESET_RESTORE,
        filler="",
    ),
    Preset(
        "colorize",
        "Colorize this black-and-white photograph with natural, true-to-life colors. {text} "
        "Keep every detail unchanged.",
        texts.PRESET_COLORIZE,
        filler="",
    ),
    Preset(
        "product",
        "A professional product shot of {text} on a pure white seamless background, soft "
        "studio lighting, a gentle shadow, sharp focus, e-commerce style.",
        texts.PRESET_PRODUCT,
    ),
    Preset(
        "watercolor",
        "{text}, as a watercolor painting: soft washes, visible paper texture, loose "
        "brushwork, gentle color bleeds.",
        texts.PRESET_WATERCOLOR,
    ),
    Preset(
        "anime",
        "{text}, in anime style: clean line art, cel shading, expressive eyes, vibrant colors.",
        texts.PRESET_ANIME,
    ),
    Preset(
        "pixel",
        "{text}, as pixel art: 16-bit retro game style, a limited palette, crisp square pixels, "
        "no anti-aliasing.",
        texts.PRESET_PIXEL,
    ),
    Preset(
        "infographic",
        "A clear, well-organized infographic about {text}: a title, labeled sections, icons "
        "and simple charts, legible text, a clean flat design.",
        texts.PRESET_INFOGRAPHIC,
    ),
    Preset(
        "logo",
        "A simple, memorable logo for {text}: a flat vector mark with few colors, centered on "
        "a plain white background, no mockup.",
        texts.PRESET_LOGO,
    ),
)
_BY_NAME = {preset.name: preset for preset in BUILTIN}


def builtin(name: str) -> Preset | None:
    """The built-in preset called `name` in English or in the current language, any case."""
    wanted = name.casefold()
    if wanted in _BY_NAME:
        return _BY_NAME[wanted]
    return next((p for p in BUILTIN if key(p.shown) == wanted), None)


def key(name: str) -> str:
    """A name as it is compared and stored: without direction marks, case folded."""
    return name.translate(_MARKS).strip().casefold()


def valid_name(name: str) -> bool:
    """Whether `name` may name a user's or a group's preset."""
    return (
        _NAME.fullmatch(name) is not None
        and len(name) <= NAME_MAX_CHARS
        and len(name.encode()) <= _NAME_MAX_BYTES
    )


def own(name: str, template: str) -> Preset:
    """A user's or group's preset: nothing stands in for {text} when a photo comes alone."""
    return Preset(name, template, filler="")
