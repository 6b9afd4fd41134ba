"""The buttons under a result (again, x4, another ratio, larger) and their callback data: a short
prefix, the kind, the job id and, for a ratio, its value; well within Telegram's 64 bytes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.catalog import capabilities_for
from bot.domain import Order

RESULT_PREFIX = "res"
# The pictures the x4 button makes.
VARIANTS = 4
# Job ids are database ids: a longer number is forged.
_MAX_ID_DIGITS = 18
_RATIO_COLUMNS = 5


class ButtonKind(StrEnum):
    AGAIN = "a"
    FOUR = "4"
    RATIOS = "r"  # shows the model's ratios in place of the first row
    RATIO = "o"  # one of them: the same request with that ratio
    BACK = "b"  # from the ratios back to the first row
    LARGER = "u"
    NEW = "n"  # in /mode chat: the chat's next message begins a new conversation


_KINDS = {kind.value for kind in ButtonKind}


@dataclass(frozen=True, slots=True)
class ResultButton:
    """A tap's callback data, read: which button, under which job's result."""

    kind: ButtonKind
    job_id: int
    value: str = ""


def read_button(data: str | None) -> ResultButton | None:
    """The button `data` names; None for anything this bot never sent."""
    parts = (data or "").split("|")
    if len(parts) not in (3, 4) or parts[0] != RESULT_PREFIX:
        return None
    kind, raw, value = parts[1], parts[2], parts[3] if len(parts) == 4 else ""
    if kind not in _KINDS or not raw.isdigit() or len(raw) > _MAX_ID_DIGITS:
        return None
    if bool(value) != (kind == ButtonKind.RATIO):
        return None
    return ResultButton(ButtonKind(kind), int(raw), value)


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
    rows = [row, [_button(texts.NEW_BUTTON(), ButtonKind.NEW, job_id)]] if new else [row]
    return InlineKeyboardMarkup(rows)


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


def _button(label: str, kind: ButtonKind, job_id: int, value: str = "") -> InlineKeyboardButton:
    data = "|".join((RESULT_PREFIX, kind.value, str(job_id), *((value,) if value else ())))
    return InlineKeyboardButton(label, callback_data=data)
