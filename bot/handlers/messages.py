"""Message handlers: a prompt, with any photos, files, album or replied-to image, is a request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from telegram import Message, Update
from telegram.constants import ChatType

from bot import texts
from bot.admission import LimitReached, Requester, Ticket
from bot.delivery import QueueNote, send_picture, uploading_photo
from bot.domain import ImageRequest, Order, Picture
from bot.handlers.access import requester_id
from bot.handlers.context import BotContext, ChatSettings
from bot.handlers.inputs import (
    ImageFile,
    InputRejected,
    addressed_to_bot,
    download,
    image_files,
    prepare,
    prompt_of,
)
from bot.storage import INTERRUPTED
from bot.upstream import UpstreamError

log = logging.getLogger(__name__)

# The ledger's outcome for a request whose input image could not be used (it costs nothing).
BAD_INPUT = "bad_input"


async def on_message(update: Update, context: BotContext) -> None:
    """Text, photos and files: generate or edit, if the message is meant for the bot."""
    message = update.effective_message
    if message is None:
        return
    album = [message]
    if message.media_group_id:
        collected = await context.services.albums.collect(message)
        if collected is None:
            return  # the album's first update answers for all of it
        album = collected
    if not any(addressed_to_bot(m, context.bot) for m in album):
        return
    # The album item with the caption carries the prompt and gets the answer.
    lead = next((m for m in album if m.text or m.caption), album[0])
    chat = await context.services.chat_settings(lead.chat_id)
    try:
        replied = image_files(lead.reply_to_message) if lead.reply_to_message else []
        files = replied + [f for m in album for f in image_files(m)]
    except InputRejected as exc:
        await lead.reply_text(str(exc))
        return
    prompt = prompt_of(lead, context.bot)
    if not prompt:
        await lead.reply_text(texts.PHOTO_WITHOUT_CAPTION if files else texts.EMPTY_PROMPT)
        return
    await _fulfil(lead, context, chat, prompt, files)


async def unsupported_message(update: Update, context: BotContext) -> None:
    """Stickers, videos, voice notes...: a hint, if the message was meant for the bot."""
    message = update.effective_message
    if message and addressed_to_bot(message, context.bot):
        await message.reply_text(texts.UNSUPPORTED_MESSAGE)


async def _fulfil(
    message: Message,
    context: BotContext,
    chat: ChatSettings,
    prompt: str,
    files: list[ImageFile],
) -> None:
    """Run one request for `message` and answer it with the image or with why there is none.
    Its images are downloaded only once it is admitted: a user over a limit costs nothing."""
    order = Order(
        prompt=prompt,
        model=chat.model,
        aspect_ratio=chat.aspect_ratio,
        image_size=chat.image_size,
        inputs=min(len(files), chat.capabilities.max_input_images),
    )
    who = Requester(
        user_id=requester_id(message),
        chat_id=message.chat_id,
        message_id=message.message_id,
        in_group=message.chat.type != ChatType.PRIVATE,
    )
    note = QueueNote(message)
    try:
        async with context.services.admission.admit(who, order) as ticket:
            images = await _inputs(message, context, chat, files, ticket)
            if images is not None:
                request = order.with_images(images)
                await _generate_and_send(message, context, chat, request, ticket, note)
    except LimitReached as exc:
        log.info("request refused before upstream: %s", exc)
        await message.reply_text(texts.limit_reached(exc, datetime.now(UTC)))
        return
    finally:
        await note.remove()
    if ticket.outcome == INTERRUPTED:
        await message.reply_text(texts.INTERRUPTED)


async def _inputs(
    message: Message,
    context: BotContext,
    chat: ChatSettings,
    files: list[ImageFile],
    ticket: Ticket,
) -> tuple[Picture, ...] | None:
    """The request's images, downloaded and made fit for the model; None if one cannot be used
    (the user is told why, and the request costs nothing)."""
    limit = chat.capabilities.max_input_images
    if len(files) > limit:
        await message.reply_text(texts.images_left_out(limit, len(files)))
        files = files[:limit]
    try:
        downloaded = await asyncio.gather(*(download(context.bot, f) for f in files))
        pictures = [await prepare(p, chat.capabilities.input_mimes) for p in downloaded]
    except InputRejected as exc:
        log.info("input image refused: %s", exc.__cause__ or exc)
        ticket.failed(BAD_INPUT)
        await message.reply_text(str(exc))
        return None
    if any(p.animated for p in downloaded):
        await message.reply_text(texts.FIRST_FRAME_ONLY)
    return tuple(pictures)


async def _generate_and_send(
    message: Message,
    context: BotContext,
    chat: ChatSettings,
    request: ImageRequest,
    ticket: Ticket,
    note: QueueNote,
) -> None:
    services = context.services
    # Until the picture is sent: "uploading photo…" (from the request's turn on), and the image.
    async with contextlib.AsyncExitStack() as until_sent:
        try:
            # The cap covers the upstream call only, not the upload to Telegram.
            async with services.scheduler.turn(message.chat_id, note.show):
                await until_sent.enter_async_context(uploading_photo(context.bot, message.chat_id))
                result = await until_sent.enter_async_context(services.images.generate(request))
        except UpstreamError as exc:
            ticket.failed(exc.kind)
            services.metrics.upstream_errors.labels(exc.kind).inc()
            log.warning(
                "upstream failure (%s) after %d attempt(s): %s", exc.kind, exc.attempts, exc
            )
            await message.reply_text(texts.upstream_failure(exc))
            return
        ticket.succeeded(result.cost_usd)
        delivered = services.fidelity.check(request, result)
        caption = texts.result_caption(request.prompt, delivered, result.cost_usd)
        sent = await send_picture(
            message, result.picture, caption, as_file=chat.output_format == "file"
        )
    services.metrics.images_sent.labels("photo" if sent.photo else "document").inc()
