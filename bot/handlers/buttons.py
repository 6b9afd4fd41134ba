"""The buttons under a result: a tap runs the stored request again (the same, x4, with another
ratio, or larger) as a new job of whoever tapped, through the same limits as a message."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

from telegram import CallbackQuery, Update
from telegram.constants import ChatType

from bot import i18n, texts
from bot.catalog import capabilities_for
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
    if button.kind is ButtonKind.NEW:
        await services.storage.new_thread(job.who.chat_id)
        await query.answer(texts.NEW_THREAD())
        return
    days = services.settings.access.request_retention_days
    if not job.order.prompt or job.created_at < datetime.now(UTC) - timedelta(days=days):
        await query.answer(texts.result_button_expired(days))
        return
    if button.kind in (ButtonKind.RATIOS, ButtonKind.BACK):
        keyboard = (
            ratio_keyboard(job.id, job.order)
            if button.kind is ButtonKind.RATIOS
            else result_keyboard(job.id, job.order, new=job.options.conversation)
        )
        await query.answer()
        await query.edit_message_reply_markup(keyboard)
        return
    await _run_again(query, services, job, button)


async def _run_again(
    query: CallbackQuery, services: Services, job: Job, button: ResultButton
) -> None:
    if job.order.model not in services.availability.offered():
        await query.answer(texts.RESULT_MODEL_GONE())
        return
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
        await query.edit_message_reply_markup(
            result_keyboard(job.id, job.order, new=job.options.conversation)
        )


def _again(job: Job, button: ResultButton, who: Requester) -> Submission | None:
    """The new job a button asks for; None if the button cannot apply to this job (a ratio the
    model lacks, a result whose file was not kept)."""
    order, file_ids, kept = job.order, job.file_ids, job.options
    # Again, x4 or another ratio: the same turn of the same conversation.
    options = JobOptions(
        enlarge=kept.enlarge,
        parent_id=kept.parent_id,
        thread_turn=kept.thread_turn,
        conversation=kept.conversation,
    )
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
