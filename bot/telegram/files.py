"""Pictures in Telegram: fetched by `file_id` when a job starts (or for "Original"), checked from
their header before anything decodes them."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot
from telegram.error import TelegramError

from bot import imaging, texts
from bot.decoding import InputRejected, as_png
from bot.domain import Picture


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


async def original(bot: Bot, file_id: str) -> Picture:
    """A delivered result fetched back from Telegram, as a PNG."""
    return await as_png(await download(bot, ImageFile(file_id, None)))
