"""Reading a Telegram message: is it for the bot, what is the prompt, which images come with it."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from telegram import Bot, Message, MessageEntity
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot import imaging, texts
from bot.domain import Picture

# Bots may download files of at most 20 MB from Telegram.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024

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


def addressed_to_bot(message: Message, bot: Bot) -> bool:
    """In a private chat, always; in a group, a reply to the bot or a mention of it."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    replied = message.reply_to_message
    if replied and replied.from_user and replied.from_user.id == bot.id:
        return True
    mention = f"@{bot.username}".lower()
    mentions = {
        **message.parse_entities([MessageEntity.MENTION]),
        **message.parse_caption_entities([MessageEntity.MENTION]),
    }
    return any(text.lower() == mention for text in mentions.values())


def prompt_of(message: Message, bot: Bot) -> str:
    """The message's text or caption without the bot's @mention."""
    text = message.text or message.caption or ""
    text = re.sub(rf"@{re.escape(bot.username)}\b", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def image_files(message: Message) -> list[ImageFile]:
    """The message's own image: the largest size of a photo, or an image sent as a file; one that
    Telegram would not let the bot download is refused here, before anything is fetched."""
    if message.photo:
        largest = message.photo[-1]
        image = ImageFile(largest.file_id, largest.file_size)
    elif message.document is None:
        return []
    elif not (message.document.mime_type or "").startswith("image/"):
        raise InputRejected(texts.NOT_AN_IMAGE_FILE)
    else:
        image = ImageFile(message.document.file_id, message.document.file_size)
    if image.file_size and image.file_size > TELEGRAM_DOWNLOAD_LIMIT:
        raise InputRejected(texts.INPUT_TOO_LARGE)
    return [image]


async def download(bot: Bot, image: ImageFile) -> Picture:
    """The image's bytes from Telegram, checked from the header to be an image of a size the bot
    will decode."""
    try:
        file = await bot.get_file(image.file_id)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        raise InputRejected(texts.DOWNLOAD_FAILED) from exc
    try:
        return imaging.inspect(data)
    except imaging.TooManyPixels as exc:
        raise InputRejected(texts.too_many_pixels(imaging.MAX_PIXELS)) from exc
    except imaging.NotAnImage as exc:
        raise InputRejected(texts.NOT_AN_IMAGE) from exc


async def prepare(picture: Picture, accepted: frozenset[str]) -> Picture:
    """`picture` decoded and, if the model needs it, converted (imaging.fit_for_model)."""
    work = _DECODING.submit(imaging.fit_for_model, picture, accepted)
    try:
        return await asyncio.wrap_future(work)
    except imaging.BrokenImage as exc:
        raise InputRejected(texts.BROKEN_IMAGE) from exc
