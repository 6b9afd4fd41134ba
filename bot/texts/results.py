"""A delivered picture: its caption, and the buttons under it and in its studio."""

from __future__ import annotations

from bot.fidelity import Delivered
from bot.i18n import Text, current, ngettext
from bot.i18n import gettext as _
from bot.texts._shared import TELEGRAM_CAPTION_LIMIT

__all__ = [
    "AGAIN_BUTTON",
    "BACK_BUTTON",
    "ENHANCE_BUTTON",
    "FOUR_BUTTON",
    "MORE_BUTTON",
    "NEW_BUTTON",
    "ORIGINAL_BUTTON",
    "ORIGINAL_GONE",
    "RATIO_BUTTON",
    "REFERENCE_HOW",
    "REMIX_ASK",
    "REMIX_BUTTON",
    "REMIX_PLACEHOLDER",
    "RESULT_BUTTON_TAKEN",
    "RESULT_BUTTON_UNKNOWN",
    "RESULT_CANNOT_ENLARGE",
    "RESULT_MODEL_GONE",
    "VARY_STRONG_BUTTON",
    "VARY_SUBTLE_BUTTON",
    "larger_button",
    "pan_button",
    "result_button_expired",
    "result_caption",
    "zoom_out_button",
]


def result_caption(
    prompt: str, delivered: Delivered, cost_usd: float | None, *, turn: int = 1
) -> str:
    """The prompt, trimmed to fit Telegram's caption limit, then the ratio, tier and pixels the
    picture really has, the cost, what was asked where the picture differs, and which turn of a
    conversation it is."""
    shape = delivered.shape
    # A real multiplication sign: the caption is read by people, not parsed.
    pixels = f"{shape.width}×{shape.height}"  # noqa: RUF001
    details = f"{shape.aspect_ratio} · {shape.image_size} · {pixels}"
    if current().rtl:
        # Digits around a sign would swap places in a right-to-left caption (see bot/i18n.py).
        details = f"\u200e{details}"
    if cost_usd is not None:
        details += f" · ${cost_usd:.3f}"
    asked = [a for a in (delivered.asked_ratio, delivered.asked_size) if a]
    if asked:
        details += " " + _("(asked {asked})").format(asked=" · ".join(asked))
    if turn > 1:
        details += " · " + _("turn {n}").format(n=turn)
    room = TELEGRAM_CAPTION_LIMIT - _telegram_length(details) - 2
    if _telegram_length(prompt) > room:
        prompt = prompt[: room - 1]
        while _telegram_length(prompt) > room - 1:
            prompt = prompt[:-1]
        prompt = prompt.rstrip() + "…"
    return f"{prompt}\n\n{details}"


def _telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units, so an emoji may count twice."""
    return len(text.encode("utf-16-le")) // 2


# The buttons under a result.
AGAIN_BUTTON = Text("🔁 Again")
FOUR_BUTTON = "×4"  # noqa: RUF001 (a real multiplication sign, read by people; no words)
RATIO_BUTTON = Text("Ratio…")
BACK_BUTTON = Text("« Back")
NEW_BUTTON = Text("🆕 New")


def larger_button(size: str) -> str:
    return f"⬆ {size}"


# Answers to a tap on them (Telegram shows at most 200 characters).
RESULT_BUTTON_TAKEN = Text("On it: a new picture is coming.")
RESULT_BUTTON_UNKNOWN = Text("I don't know this picture's request. Please send the prompt again.")
RESULT_MODEL_GONE = Text(
    "This picture's model isn't offered any more. Please send the prompt again."
)
RESULT_CANNOT_ENLARGE = Text("I can't make this picture larger. Please send the prompt again.")


# "More…" and the studio's buttons it opens.
MORE_BUTTON = Text("More…")
VARY_SUBTLE_BUTTON = Text("Vary (subtle)")
VARY_STRONG_BUTTON = Text("Vary (strong)")
ORIGINAL_BUTTON = Text("📎 Original")
ENHANCE_BUTTON = Text("✨ Enhance")
REFERENCE_HOW = Text(
    "Reply to this picture with /ref add NAME to keep it: then #NAME in a prompt uses it."
)
REMIX_BUTTON = Text("Remix")
REMIX_ASK = Text(
    "Remix: reply to this message with a new instruction for the picture above. I'll apply it "
    "to that picture together with its original images."
)
# Shown in the input field of the reply (Telegram allows 1-64 characters).
REMIX_PLACEHOLDER = Text("New instruction for the picture")
ORIGINAL_GONE = Text("I don't have this picture's file any more. Please send the prompt again.")


def zoom_out_button(factor: str) -> str:
    return _("Zoom out {factor}×").format(factor=factor)  # noqa: RUF001 (a multiplication sign)


def pan_button(arrow: str) -> str:
    return _("Pan {arrow}").format(arrow=arrow)


def result_button_expired(days: int) -> str:
    return ngettext(
        "I keep requests for {n} day, and this one is older, so I no longer have it. "
        "Please send the prompt again.",
        "I keep requests for {n} days, and this one is older, so I no longer have it. "
        "Please send the prompt again.",
        days,
    ).format(n=days)
