"""The buttons under a result: a tap runs the stored request again (the same, x4, with another
ratio, or larger) as a new job of whoever tapped, through the same limits as a message, or makes
the picture a sticker in the tapper's own set."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

from telegram import CallbackQuery, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot import i18n, texts
from bot.catalog import capabilities_for
from bot.inputs import InputRejected
from bot.jobs import Job, JobOptions, Requester
from bot.pipeline import Submission
from bot.policy import LimitReached
from bot.result_buttons import (
    VARIANTS,
    ButtonKind,
    ResultButton,
    larger_size,
    ratio_keyboard,
    read_button,
    result_keyboard,
)
from bot.services import BotContext, Services
from bot.stickers import NoRoom, StartFirst, add_sticker, link
from bot.variants import fit_to_model

log = logging.getLogger(__name__)

# Telegram shows at most 200 characters of a tap's answer.
_ANSWER_LIMIT = 200


async def result_button(update: Update, context: BotContext) -> None:
    """Every tap is answered: with what happens, or why nothing does."""
    query = update.callback_query
    if query is None:
        return
    services = context.services
    button = read_button(query.data)
    job = await services.storage.job(button.job_id) if button else None
    # A job is only run again in the chat it was made in: data naming another chat's job is
    # forged, and would show its prompt and pictures to strangers.
    if button is None or job is None or query.message is None:
        await query.answer(texts.RESULT_BUTTON_UNKNOWN())
        return
    if job.who.chat_id != query.message.chat.id:
        log.info("refused a result button for job %d from another chat", job.id)
        await query.answer(texts.RESULT_BUTTON_UNKNOWN())
        return
    days = services.settings.access.request_retention_days
    if not job.order.prompt or job.created_at < datetime.now(UTC) - timedelta(days=days):
        await query.answer(texts.result_button_expired(days))
        return
    if button.kind is ButtonKind.STICKER:
        await _sticker(query, context, job)
        return
    if button.kind in (ButtonKind.RATIOS, ButtonKind.BACK):
        keyboard = ratio_keyboard if button.kind is ButtonKind.RATIOS else result_keyboard
        await query.answer()
        await query.edit_message_reply_markup(keyboard(job.id, job.order))
        return
    await _run_again(query, services, job, button)


async def _sticker(query: CallbackQuery, context: BotContext, job: Job) -> None:
    """The result into the tapper's sticker set; the set's link in their private chat."""
    if job.result_file_id is None:
        await query.answer(texts.RESULT_BUTTON_UNKNOWN())
        return
    user_id, bot = query.from_user.id, context.bot
    try:
        name = await add_sticker(bot, context.services.storage, user_id, job.result_file_id)
    except StartFirst:
        await query.answer(texts.sticker_start_first(bot.username), show_alert=True)
        return
    except (NoRoom, InputRejected, TelegramError) as exc:
        log.warning("could not make a sticker of job %d: %s", job.id, exc)
        await query.answer(texts.STICKER_FAILED(), show_alert=True)
        return
    await query.answer(texts.STICKER_ADDED())
    assert query.message is not None
    # The link goes to the user alone: in a group it is a reply to no one else.
    private = query.message.chat.id == user_id
    reply = ReplyParameters(query.message.message_id) if private else None
    await bot.send_message(user_id, texts.sticker_set_link(link(name)), reply_parameters=reply)


async def _run_again(
    query: CallbackQuery, services: Services, job: Job, button: ResultButton
) -> None:
    # The model may have been replaced by its successor since (models.toml).
    model = services.availability.current(job.order.model)
    if model not in services.availability.offered():
        await query.answer(texts.RESULT_MODEL_GONE())
        return
    job = dataclasses.replace(job, order=fit_to_model(dataclasses.replace(job.order, model=model)))
    assert query.message is not None
    chat = query.message.chat
    who = Requester(
        user_id=query.from_user.id,
        chat_id=chat.id,
        message_id=query.message.message_id,
        in_group=chat.type != ChatType.PRIVATE,
        # The new job is the tapper's: it answers in their language.
        language=i18n.current().code,
    )
    submission = _again(job, button, who)
    if submission is None:
        larger = button.kind is ButtonKind.LARGER
        await query.answer(
            texts.RESULT_CANNOT_ENLARGE() if larger else texts.RESULT_BUTTON_UNKNOWN()
        )
        return
    try:
        await services.pipeline.submit(submission)
    except LimitReached as exc:
        log.info("a result button refused before upstream: %s", exc)
        selling = services.settings.stars.enabled
        text = texts.limit_reached(exc, datetime.now(UTC), selling)
        await query.answer(text[:_ANSWER_LIMIT], show_alert=True)
        return
    await query.answer(texts.RESULT_BUTTON_TAKEN())
    if button.kind is ButtonKind.RATIO:
        await query.edit_message_reply_markup(result_keyboard(job.id, job.order))


def _again(job: Job, button: ResultButton, who: Requester) -> Submission | None:
    """The new job a button asks for; None if the button cannot apply to this job (a ratio the
    model lacks, a result whose file was not kept)."""
    order, file_ids = job.order, job.file_ids
    options = JobOptions(enlarge=job.options.enlarge)
    if button.kind is ButtonKind.FOUR:
        options = dataclasses.replace(options, images=VARIANTS)
    elif button.kind is ButtonKind.RATIO:
        if button.value not in capabilities_for(order.model).aspect_ratios:
            return None
        order = dataclasses.replace(order, aspect_ratio=button.value)
    elif button.kind is ButtonKind.LARGER:
        larger = larger_size(order)
        if larger is None or job.result_file_id is None:
            return None
        order = dataclasses.replace(order, image_size=larger, inputs=1)
        options, file_ids = JobOptions(enlarge=True), (job.result_file_id,)
    return Submission(who, order, job.output_format, file_ids, options)
