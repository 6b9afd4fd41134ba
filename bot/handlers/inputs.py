"""Reading a Telegram message: is it for the bot, what is the prompt, which images come with it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import Bot, Message, MessageEntity
from telegram.constants import ChatType

from bot import imaging, texts
from bot.domain import Picture

# Bots may download files of at most 20 MB from Telegram.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024


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
    """The message's own image: the largest size of a photo, or an image sent as a file."""
    if message.photo:
        largest = message.photo[-1]
        return [ImageFile(largest.file_id, largest.file_size)]
    document = message.document
    if document is None:
        return []
    if not (document.mime_type or "").startswith("image/"):
        raise InputRejected(texts.NOT_AN_IMAGE_FILE)
    return [ImageFile(document.file_id, document.file_size)]


async def download(bot: Bot, image: ImageFile) -> Picture:
    """The image's bytes from Telegram, checked to be an image."""
    if image.file_size and image.file_size > TELEGRAM_DOWNLOAD_LIMIT:
        raise InputRejected(texts.INPUT_TOO_LARGE)
    file = await bot.get_file(image.file_id)
    data = bytes(await file.download_as_bytearray())
    try:
        return imaging.inspect(data)
    except imaging.NotAnImage as exc:
        raise InputRejected(texts.NOT_AN_IMAGE) from exc
