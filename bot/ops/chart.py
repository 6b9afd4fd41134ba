"""The /stats chart: images and spend per day, and failures by kind, drawn as a PNG with Pillow.
CPU-bound: callers run it in a thread, off the event loop."""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image, ImageDraw, ImageFont

from bot import texts
from bot.store.storage import DayTotals

WIDTH, HEIGHT = 1000, 760
_MARGIN = 60
_BACKGROUND = (255, 255, 255)
_INK = (40, 40, 40)
_GRID = (225, 225, 225)
_OK = (52, 120, 200)
_FAILED = (220, 90, 70)
_SPEND = (60, 160, 90)

Box = tuple[int, int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def usage_chart(
    days: list[DayTotals], failures: list[tuple[str, int]], last_day: date, span: int = 30
) -> bytes:
    """The last `span` days up to `last_day`, days without requests drawn as empty."""
    by_day = {d.day: d for d in days}
    axis = [last_day - timedelta(days=span - 1 - i) for i in range(span)]
    series = [by_day.get(day.isoformat(), DayTotals(day.isoformat(), 0, 0, 0.0)) for day in axis]
    image = Image.new("RGB", (WIDTH, HEIGHT), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    title = ImageFont.load_default(size=18)
    draw.text((_MARGIN, 14), texts.chart_title(span), fill=_INK, font=title)

    images_box = (_MARGIN, 70, WIDTH - 30, 300)
    _panel(draw, images_box, texts.CHART_IMAGES, font)
    _bars(draw, images_box, [(d.ok, d.failed) for d in series], font, "{:.0f}")
    spend_box = (_MARGIN, 350, WIDTH - 30, 540)
    _panel(draw, spend_box, texts.CHART_SPEND, font)
    _bars(draw, spend_box, [(d.cost_usd, 0) for d in series], font, "${:.2f}", _SPEND)
    _day_labels(draw, spend_box, axis, font)
    failures_box = (_MARGIN, 590, WIDTH - 30, HEIGHT - 20)
    _panel(draw, failures_box, texts.chart_failures(span), font)
    _failures(draw, failures_box, failures, font)

    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _panel(draw: ImageDraw.ImageDraw, box: Box, label: str, font: Font) -> None:
    left, top, right, bottom = box
    draw.text((left, top - 22), label, fill=_INK, font=font)
    draw.line((left, bottom, right, bottom), fill=_INK)


def _bars(
    draw: ImageDraw.ImageDraw,
    box: Box,
    values: list[tuple[float, float]],
    font: Font,
    scale_format: str,
    colour: tuple[int, int, int] = _OK,
) -> None:
    """One bar per day: the first value, with the second stacked on it in red."""
    left, top, right, bottom = box
    peak = max((a + b for a, b in values), default=0) or 1
    for fraction in (0.5, 1.0):
        y = bottom - round((bottom - top) * fraction)
        draw.line((left, y, right, y), fill=_GRID)
        draw.text((right - 60, y - 16), scale_format.format(peak * fraction), fill=_INK, font=font)
    step = (right - left) / len(values)
    for i, (first, second) in enumerate(values):
        x0, x1 = left + round(i * step) + 2, left + round((i + 1) * step) - 2
        first_top = bottom - round((bottom - top) * first / peak)
        if first:
            draw.rectangle((x0, first_top, x1, bottom - 1), fill=colour)
        if second:
            second_top = first_top - round((bottom - top) * second / peak)
            draw.rectangle((x0, second_top, x1, first_top - 1), fill=_FAILED)


def _day_labels(draw: ImageDraw.ImageDraw, box: Box, axis: list[date], font: Font) -> None:
    left, _, right, bottom = box
    step = (right - left) / len(axis)
    for i, day in enumerate(axis):
        if i % 5 == 0 or i == len(axis) - 1:
            draw.text(
                (left + round(i * step), bottom + 4), day.strftime("%d %b"), fill=_INK, font=font
            )


def _failures(
    draw: ImageDraw.ImageDraw,
    box: Box,
    failures: list[tuple[str, int]],
    font: Font,
) -> None:
    left, top, right, bottom = box
    if not failures:
        draw.text((left, top + 10), texts.CHART_NO_FAILURES, fill=_INK, font=font)
        return
    shown = failures[: max(1, (bottom - top) // 22)]
    peak = max(count for _, count in shown)
    for row, (kind, count) in enumerate(shown):
        y = top + 4 + row * 22
        draw.text((left, y), kind, fill=_INK, font=font)
        bar_right = left + 180 + round((right - left - 240) * count / peak)
        draw.rectangle((left + 180, y + 2, bar_right, y + 16), fill=_FAILED)
        draw.text((bar_right + 6, y), str(count), fill=_INK, font=font)
