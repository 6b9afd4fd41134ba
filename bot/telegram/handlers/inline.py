"""Inline mode: `@bot a prompt` in any chat offers "Draw: a prompt"; once chosen, the prompt is
a job of the user's, with their private chat's settings, whose picture goes into that message."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden

from bot import i18n, texts
from bot.domain import Order
from bot.jobs.model import JobOptions, Requester
from bot.jobs.policy import LimitReached
from bot.jobs.queue import Submission
from bot.telegram.services import BotContext

log = logging.getLogger(__name__)

_RESULT_ID = "draw"


async def inline_query(update: Update, context: BotContext) -> None:
    query = update.inline_query
    if query is None:
        return
    prompt = " ".join(query.query.split())
    if not prompt:
        await query.answer([], cache_time=0, is_personal=True)
        return
    # Telegram sends the chosen result's inline_message_id only if it has a keyboard: without
    # one the bot could never put the picture in.
    bot_link = InlineKeyboardButton(
        texts.INLINE_OPEN_BOT(), url=f"https://t.me/{context.bot.username}"
    )
    article = InlineQueryResultArticle(
        id=_RESULT_ID,
        title=texts.inline_title(prompt),
        description=texts.INLINE_DESCRIPTION(),
        input_message_content=InputTextMessageContent(texts.inline_drawing(prompt)),
        reply_markup=InlineKeyboardMarkup([[bot_link]]),
    )
    # Personal and uncached: the settings, the access and the quota are each user's own.
    await query.answer([article], cache_time=0, is_personal=True)


async def chosen_inline_result(update: Update, context: BotContext) -> None:
    chosen = update.chosen_inline_result
    if chosen is None:
        return
    prompt = " ".join(chosen.query.split())
    message_id = chosen.inline_message_id
    if message_id is None or not prompt:
        log.warning(
            "a chosen inline result came without its inline_message_id: is inline feedback on "
            "(@BotFather /setinlinefeedback)?"
        )
        return
    services, user_id = context.services, chosen.from_user.id
    storage_chat = services.settings.bot.inline_storage_chat_id
    if storage_chat is None and not await _can_upload_to(context.bot, user_id):
        await _say(context.bot, message_id, texts.inline_start_first(context.bot.username))
        return
    settings = await services.chat_settings(user_id)
    submission = Submission(
        who=Requester(user_id=user_id, chat_id=user_id, language=i18n.current().code),
        order=Order(prompt, settings.model, settings.aspect_ratio, settings.image_size),
        output_format=settings.output_format,
        options=JobOptions(inline_message_id=message_id),
    )
    try:
        await services.jobs.submit(submission)
    except LimitReached as exc:
        log.info("inline request refused before upstream: %s", exc)
        selling = services.settings.stars.enabled
        await _say(context.bot, message_id, texts.limit_reached(exc, datetime.now(UTC), selling))


async def _can_upload_to(bot: Bot, user_id: int) -> bool:
    """Whether the bot may write to the user's private chat (it may not until they start it),
    asked before anything is paid for; the action shows there until the picture arrives."""
    try:
        await bot.send_chat_action(user_id, ChatAction.UPLOAD_PHOTO)
    except (Forbidden, BadRequest) as exc:
        log.info("cannot write to user %s for an inline picture: %s", user_id, exc)
        return False
    return True


async def _say(bot: Bot, inline_message_id: str, text: str) -> None:
    await bot.edit_message_text(text, inline_message_id=inline_message_id)
