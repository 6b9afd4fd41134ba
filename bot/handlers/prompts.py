"""Message handlers: text becomes a generation, a captioned photo an edit; the rest gets a hint."""

from __future__ import annotations

import logging
import time

from telegram import Message, PhotoSize, Update

from bot import imaging, texts
from bot.delivery import send_picture, uploading_photo
from bot.domain import ImageRequest, Picture
from bot.handlers.context import BotContext
from bot.upstream import UpstreamError

log = logging.getLogger(__name__)

# Bots may download files of at most 20 MB from Telegram.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024


class InputRejected(Exception):
    """A user's input that cannot become a request; the message is the reply to give."""


async def text_prompt(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or not message.text or not message.text.strip():
        return
    await _fulfil(message, context, message.text.strip(), ())


async def photo_prompt(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or not message.photo:
        return
    caption = (message.caption or "").strip()
    if not caption:
        await message.reply_text(texts.PHOTO_WITHOUT_CAPTION)
        return
    try:
        picture = await _download(message.photo[-1], context)
    except InputRejected as exc:
        await message.reply_text(str(exc))
        return
    await _fulfil(message, context, caption, (picture,))


async def unsupported_message(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(texts.UNSUPPORTED_MESSAGE)


async def _download(photo: PhotoSize, context: BotContext) -> Picture:
    """The photo's bytes from Telegram, checked to be an image."""
    if photo.file_size and photo.file_size > TELEGRAM_DOWNLOAD_LIMIT:
        raise InputRejected(texts.INPUT_TOO_LARGE.format(limit_mb=TELEGRAM_DOWNLOAD_LIMIT >> 20))
    file = await photo.get_file()
    data = bytes(await file.download_as_bytearray())
    try:
        return imaging.inspect(data)
    except imaging.NotAnImage as exc:
        raise InputRejected(texts.NOT_AN_IMAGE) from exc


async def _fulfil(
    message: Message, context: BotContext, prompt: str, images: tuple[Picture, ...]
) -> None:
    """Run one request for `message` and answer it with the image or with why there is none."""
    services = context.services
    chat = await services.chat_settings(message.chat_id)
    request = ImageRequest(
        prompt=prompt,
        model=chat.model,
        aspect_ratio=chat.aspect_ratio,
        image_size=chat.image_size,
        images=images,
    )
    started = time.monotonic()
    outcome, cost = "unexpected_error", None
    try:
        async with uploading_photo(context.bot, message.chat_id):
            result = await services.images.generate(request)
            cost = result.cost_usd
            await send_picture(message, result.picture)
        outcome = "ok"
    except UpstreamError as exc:
        outcome = exc.kind
        log.warning("upstream failure (%s): %s", exc.kind, exc)
        await message.reply_text(texts.upstream_failure(exc))
    finally:
        log.info(
            "request chat=%s user=%s kind=%s model=%s ratio=%s size=%s outcome=%s "
            "latency=%.2fs cost=%s",
            message.chat_id,
            message.from_user.id if message.from_user else None,
            request.kind.value,
            request.model,
            request.aspect_ratio,
            request.image_size,
            outcome,
            time.monotonic() - started,
            cost,
        )
