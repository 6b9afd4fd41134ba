"""Reading a Telegram message: is it for the bot, what is the prompt, which images come with it."""

from __future__ import annotations

import re

from telegram import Bot, Message, MessageEntity
from telegram.constants import ChatType

from bot import texts
from bot.decoding import InputRejected
from bot.telegram.files import ImageFile

# Bots may download files of at most 20 MB from Telegram.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024


def addressed_to_bot(message: Message, bot: Bot) -> bool:
    """In a private chat, always; in a group, a reply to the bot, a mention of it, or a caption
    starting with a command addressed to it."""
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
    # A caption's `/p@ThisBot ...` (no command handler sees a caption).
    commands = message.parse_caption_entities([MessageEntity.BOT_COMMAND])
    return any(text.lower() == mention for text in mentions.values()) or any(
        text.lower().endswith(mention) for text in commands.values()
    )


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
        raise InputRejected(texts.NOT_AN_IMAGE_FILE())
    else:
        image = ImageFile(message.document.file_id, message.document.file_size)
    if image.file_size and image.file_size > TELEGRAM_DOWNLOAD_LIMIT:
        raise InputRejected(texts.INPUT_TOO_LARGE())
    return [image]
