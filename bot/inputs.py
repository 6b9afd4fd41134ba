"""A job's input images: fetched from Telegram by `file_id` when the job starts, checked from
their header, then decoded and made fit for the model off the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from telegram import Bot
from telegram.error import TelegramError

from bot import imaging, texts
from bot.domain import Picture

# Decoding an input takes a core for up to seconds and up to ~160 MB (imaging.MAX_PIXELS), so at
# most two run at once, off the event loop; the rest wait their turn. Two worker threads rather
# than a semaphore around `to_thread`: a request cancelled mid-decoding would free a semaphore at
# once, while its thread, which cannot be stopped, went on decoding.
_DECODING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode")


class InputRejected(Exception):
    """A user's input that cannot become a request; the message is the reply to give."""


@dataclass(frozen=True, slots=True)
class ImageFile:
    """An image in Telegram, not yet downloaded."""

    file_id: str
    file_size: int | None


async def download(bot: Bot, image: ImageFile) -> Picture:
    """The image's bytes from Telegram, checked from the header to be an image of a size the bot
    will decode."""
    try:
        file = await bot.get_file(image.file_id)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        raise InputRejected(texts.DOWNLOAD_FAILED()) from exc
    try:
        return imaging.inspect(data)
    except imaging.TooManyPixels as exc:
        raise InputRejected(texts.too_many_pixels(imaging.MAX_PIXELS)) from exc
    except imaging.NotAnImage as exc:
        raise InputRejected(texts.NOT_AN_IMAGE()) from exc


async def prepare(picture: Picture, accepted: frozenset[str]) -> Picture:
    """`picture` decoded and, if the model needs it, converted (imaging.fit_for_model)."""
    work = _DECODING.submit(imaging.fit_for_model, picture, accepted)
    try:
        return await asyncio.wrap_future(work)
    except imaging.BrokenImage as exc:
        raise InputRejected(texts.BROKEN_IMAGE()) from exc


async def as_sticker(picture: Picture) -> Picture:
    """`picture` made a static sticker (imaging.sticker), on the decoding threads."""
    work = _DECODING.submit(imaging.sticker, picture)
    try:
        return await asyncio.wrap_future(work)
    except imaging.BrokenImage as exc:
        raise InputRejected(texts.BROKEN_IMAGE()) from exc


async def on_canvas(
    picture: Picture,
    scale: tuple[float, float],
    anchor: tuple[float, float],
    accepted: frozenset[str],
) -> Picture:
    """`picture` padded on a larger canvas (imaging.on_canvas), made fit for the model."""

    def pad() -> Picture:
        return imaging.fit_for_model(imaging.on_canvas(picture, scale, anchor), accepted)

    try:
        return await asyncio.wrap_future(_DECODING.submit(pad))
    except imaging.BrokenImage as exc:
        raise InputRejected(texts.BROKEN_IMAGE()) from exc


async def original(bot: Bot, file_id: str) -> Picture:
    """A delivered result fetched back from Telegram, as a PNG."""
    picture = await download(bot, ImageFile(file_id, None))
    try:
        return await asyncio.wrap_future(_DECODING.submit(imaging.as_png, picture))
    except imaging.BrokenImage as exc:
        raise InputRejected(texts.BROKEN_IMAGE()) from exc
