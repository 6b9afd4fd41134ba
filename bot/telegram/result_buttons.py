"""The buttons under a result (again, x4, another ratio, larger, and "More…": vary, remix, zoom
out, pan, the original file, a sticker) and their callback data: a short prefix, the kind, the
job id and, for a ratio or a transform, its value (`res|<kind>|<job id>[|<value>]`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.domain import Order
from bot.jobs.model import Transform
from bot.lineup.catalog import capabilities_for
from bot.telegram.callbacks import CallbackData

# The pictures the x4 button makes.
VARIANTS = 4
_RATIO_COLUMNS = 5
# Telegram copies 1-256 characters with a copy button.
COPY_TEXT_LIMIT = 256
# A result made from a prompt this short offers ✨ Enhance: there is room to say more.
SHORT_PROMPT = 80


class ButtonKind(StrEnum):
    AGAIN = "a"
    FOUR = "4"
    RATIOS = "r"  # shows the model's ratios in place of the first row
    RATIO = "o"  # one of them: the same request with that ratio
    BACK = "b"  # from the ratios back to the first row
    LARGER = "u"
    MORE = "m"  # shows the studio's buttons in place of the first row
    TRANSFORM = "t"  # one of them: the result varied, zoomed out or panned (the value says which)
    ORIGINAL = "f"  # the result as a PNG file, free: no upstream call
    REMIX = "x"  # asks for a new instruction for the result and its inputs
    DRAW = "d"  # under the text model's prompt: draws it
    STICKER = "s"  # adds the picture to the tapper's own sticker set
    NEW = "n"  # in /mode chat: the chat's next message begins a new conversation
    ENHANCE = "e"  # a short prompt made a detailed one by the text model, to draw
    REFERENCE = "p"  # in /history: the picture sent again, to save with /ref add as a reply


_VALUED = (ButtonKind.RATIO, ButtonKind.TRANSFORM)
_TRANSFORMS = {transform.value for transform in Transform}


@dataclass(frozen=True, slots=True)
class ResultButton(CallbackData, prefix="res"):
    """A tap's callback data: which button, under which job's result; a ratio or a transform,
    and only they, carry a value (a transform one of ours)."""

    kind: ButtonKind
    job_id: int
    value: str | None = None

    def __post_init__(self) -> None:
        if (self.value is not None) != (self.kind in _VALUED):
            raise ValueError("a ratio or a transform, and only they, carry a value")
        if self.kind is ButtonKind.TRANSFORM and self.value not in _TRANSFORMS:
            raise ValueError(f"no transform {self.value!r}")


def larger_size(order: Order) -> str | None:
    """The model's largest tier, if it is larger than the order's."""
    sizes = capabilities_for(order.model).image_sizes
    if order.image_size not in sizes or order.image_size == sizes[-1]:
        return None
    return sizes[-1]


def result_keyboard(job_id: int, order: Order, *, new: bool = False) -> InlineKeyboardMarkup:
    """The first row; `new`: a conversation's result, with its "New" button below."""
    row = [
        _button(texts.AGAIN_BUTTON(), ButtonKind.AGAIN, job_id),
        _button(texts.FOUR_BUTTON, ButtonKind.FOUR, job_id),
        _button(texts.RATIO_BUTTON(), ButtonKind.RATIOS, job_id),
    ]
    if larger := larger_size(order):
        row.append(_button(texts.larger_button(larger), ButtonKind.LARGER, job_id))
    rows = [row, [_button(texts.MORE_BUTTON(), ButtonKind.MORE, job_id)]]
    if new:
        rows.append([_button(texts.NEW_BUTTON(), ButtonKind.NEW, job_id)])
    return InlineKeyboardMarkup(rows)


def more_keyboard(job_id: int, order: Order) -> InlineKeyboardMarkup:
    """The studio's buttons, opened in place by "More…"; ✨ Enhance for a short prompt."""

    def transform(label: str, kind: Transform) -> InlineKeyboardButton:
        return _button(label, ButtonKind.TRANSFORM, job_id, kind.value)

    short = 0 < len(order.prompt) <= SHORT_PROMPT
    enhance = [[_button(texts.ENHANCE_BUTTON(), ButtonKind.ENHANCE, job_id)]] if short else []

    return InlineKeyboardMarkup(
        [
            [
                transform(texts.VARY_SUBTLE_BUTTON(), Transform.VARY_SUBTLE),
                transform(texts.VARY_STRONG_BUTTON(), Transform.VARY_STRONG),
                _button(texts.REMIX_BUTTON(), ButtonKind.REMIX, job_id),
            ],
            [
                transform(texts.zoom_out_button("1.5"), Transform.ZOOM_15),
                transform(texts.zoom_out_button("2"), Transform.ZOOM_2),
            ],
            [
                transform(texts.pan_button("←"), Transform.PAN_LEFT),
                transform(texts.pan_button("→"), Transform.PAN_RIGHT),
                transform(texts.pan_button("↑"), Transform.PAN_UP),
                transform(texts.pan_button("↓"), Transform.PAN_DOWN),
            ],
            [
                _button(texts.ORIGINAL_BUTTON(), ButtonKind.ORIGINAL, job_id),
                _button(texts.STICKER_BUTTON(), ButtonKind.STICKER, job_id),
            ],
            *enhance,
            [_button(texts.BACK_BUTTON(), ButtonKind.BACK, job_id)],
        ]
    )


def ratio_keyboard(job_id: int, order: Order) -> InlineKeyboardMarkup:
    buttons = [
        _button(
            f"✓ {ratio}" if ratio == order.aspect_ratio else ratio,
            ButtonKind.RATIO,
            job_id,
            ratio,
        )
        for ratio in capabilities_for(order.model).aspect_ratios
    ]
    rows = [buttons[i : i + _RATIO_COLUMNS] for i in range(0, len(buttons), _RATIO_COLUMNS)]
    return InlineKeyboardMarkup([*rows, [_button(texts.BACK_BUTTON(), ButtonKind.BACK, job_id)]])


def past_result_buttons(number: int, job_id: int) -> list[InlineKeyboardButton]:
    """A /history entry's buttons: its number with 🔁 (again), 📎 (the original) and 📌 (to
    keep as a saved reference)."""
    return [
        _button(f"🔁 {number}", ButtonKind.AGAIN, job_id),
        _button(f"📎 {number}", ButtonKind.ORIGINAL, job_id),
        _button(f"📌 {number}", ButtonKind.REFERENCE, job_id),
    ]


def words_keyboard(job_id: int, prompt: str) -> InlineKeyboardMarkup:
    """Under a prompt the text model wrote: draw it, and copy it (where Telegram can)."""
    row = [_button(texts.DRAW_BUTTON(), ButtonKind.DRAW, job_id)]
    if 1 <= len(prompt) <= COPY_TEXT_LIMIT:
        row.append(InlineKeyboardButton(texts.COPY_BUTTON(), copy_text=CopyTextButton(prompt)))
    return InlineKeyboardMarkup([row])


def _button(
    label: str, kind: ButtonKind, job_id: int, value: str | None = None
) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=ResultButton(kind, job_id, value).pack())
