"""The buttons under a result: a tap runs the stored request again (the same, x4, with another
ratio, larger, varied, zoomed out or panned) as a new job of whoever tapped, through the same
limits as a message; "Original" sends the result back as a PNG file, at no cost; "Remix" asks
for a new instruction, and the reply to that question is the request; "Sticker" makes the
picture a sticker in the tapper's own set."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta

from telegram import CallbackQuery, ForceReply, Message, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError

from bot import i18n, texts
from bot.decoding import InputRejected
from bot.domain import Order
from bot.jobs.model import Job, JobOptions, Requester, Transform, Words
from bot.jobs.policy import LimitReached
from bot.jobs.queue import Submission
from bot.jobs.variants import fit_to_model, transformed
from bot.lineup.catalog import capabilities_for
from bot.store.storage import RemixPrompt
from bot.telegram.files import original
from bot.telegram.handlers.access import requester_id, requester_of
from bot.telegram.handlers.reading import prompt_of
from bot.telegram.result_buttons import (
    VARIANTS,
    ButtonKind,
    ResultButton,
    larger_size,
    more_keyboard,
    ratio_keyboard,
    result_keyboard,
)
from bot.telegram.services import BotContext, Services
from bot.telegram.stickers import NoRoom, StartFirst, add_sticker, link

log = logging.getLogger(__name__)

# Telegram shows at most 200 characters of a tap's answer.
_ANSWER_LIMIT = 200


async def result_button(update: Update, context: BotContext) -> None:
    """Every tap is answered: with what happens, or why nothing does."""
    query = update.callback_query
    if query is None:
        return
    services = context.services
    button = ResultButton.unpack(query.data)
    if button is None or query.message is None:
        await query.answer(texts.RESULT_BUTTON_UNKNOWN())
        return
    job, refusal = await _stored_job(services, button.job_id, query.message.chat.id)
    if job is None:
        await query.answer(refusal)
        return
    if button.kind is ButtonKind.NEW:
        await services.storage.new_thread(job.who.chat_id)
        await query.answer(texts.NEW_THREAD())
        return
    if button.kind is ButtonKind.STICKER:
        await _sticker(query, context, job)
        return
    if button.kind in (ButtonKind.RATIOS, ButtonKind.BACK, ButtonKind.MORE):
        keyboard = {
            ButtonKind.RATIOS: ratio_keyboard(job.id, job.order),
            ButtonKind.BACK: result_keyboard(job.id, job.order, new=job.options.conversation),
            ButtonKind.MORE: more_keyboard(job.id, job.order),
        }[button.kind]
        await query.answer()
        await query.edit_message_reply_markup(keyboard)
        return
    if button.kind is ButtonKind.ORIGINAL:
        await _send_original(query, job)
        return
    if button.kind is ButtonKind.REMIX:
        await _ask_remix(query, services, job)
        return
    if button.kind is ButtonKind.DRAW:
        await _draw(query, services, job)
        return
    if button.kind is ButtonKind.ENHANCE:
        await _enhance(query, services, job)
        return
    if button.kind is ButtonKind.REFERENCE:
        await _for_reference(query, job)
        return
    if job.options.words is not None:  # a text job's message has only "Draw this"
        await query.answer(texts.RESULT_BUTTON_UNKNOWN())
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


async def _stored_job(services: Services, job_id: int, chat_id: int) -> tuple[Job | None, str]:
    """The job a button (or a Remix reply) names, if it may be used from `chat_id`; else None
    and the reason to give."""
    job = await services.storage.job(job_id)
    # A job is only run again in the chat it was made in: data naming another chat's job is
    # forged, and would show its prompt and pictures to strangers.
    if job is None:
        return None, texts.RESULT_BUTTON_UNKNOWN()
    if job.who.chat_id != chat_id:
        log.info("refused a result button for job %d from another chat", job.id)
        return None, texts.RESULT_BUTTON_UNKNOWN()
    days = services.settings.access.request_retention_days
    if not job.order.prompt or job.created_at < datetime.now(UTC) - timedelta(days=days):
        return None, texts.result_button_expired(days)
    return job, ""


async def _for_reference(query: CallbackQuery, job: Job) -> None:
    """The picture sent again (by its `file_id`: no upload, no cost), saying how to keep it as a
    saved reference: `/ref add NAME` as a reply to it."""
    assert query.message is not None
    if job.result_file_id is None:
        await query.answer(texts.ORIGINAL_GONE())
        return
    await query.answer()
    chat_id, reply = query.message.chat.id, ReplyParameters(query.message.message_id)
    bot, caption = query.get_bot(), texts.REFERENCE_HOW()
    try:
        await bot.send_photo(chat_id, job.result_file_id, caption=caption, reply_parameters=reply)
    except BadRequest:  # a result sent as a file: its file_id is a document's
        await bot.send_document(
            chat_id, job.result_file_id, caption=caption, reply_parameters=reply
        )


async def _enhance(query: CallbackQuery, services: Services, job: Job) -> None:
    """The result's short prompt made a detailed one by the text model (as /enhance), as the
    tapper's request: its answer offers "Draw this"."""
    assert query.message is not None
    chat = await services.chat_settings(query.message.chat.id)
    model = services.settings.eden.text_model
    order = Order(job.order.prompt, model, chat.aspect_ratio, chat.image_size)
    options = JobOptions(images=0, words=Words.ENHANCE)
    await _submit(
        query, services, Submission(_tapper(query), order, chat.output_format, (), options)
    )


async def _draw(query: CallbackQuery, services: Services, job: Job) -> None:
    """Draw the prompt the text model wrote (the text of the tapped message, the bot's own) with
    this chat's settings, as the tapper's request."""
    assert query.message is not None
    prompt = getattr(query.message, "text", None)
    if job.options.words is None or not prompt:
        await query.answer(texts.RESULT_BUTTON_UNKNOWN())
        return
    chat = await services.chat_settings(query.message.chat.id)
    order = Order(prompt, chat.model, chat.aspect_ratio, chat.image_size)
    await _submit(query, services, Submission(_tapper(query), order, chat.output_format))


async def _ask_remix(query: CallbackQuery, services: Services, job: Job) -> None:
    """Ask the tapper for the new instruction; their reply to the question is the request."""
    assert query.message is not None
    if job.result_file_id is None:
        await query.answer(texts.ORIGINAL_GONE())
        return
    await query.answer()
    asked = await query.get_bot().send_message(
        query.message.chat.id,
        texts.REMIX_ASK(),
        reply_parameters=ReplyParameters(
            query.message.message_id, allow_sending_without_reply=True
        ),
        reply_markup=ForceReply(input_field_placeholder=texts.REMIX_PLACEHOLDER()),
    )
    await services.storage.add_remix_prompt(
        RemixPrompt(asked.chat.id, asked.message_id, job.id, query.from_user.id, datetime.now(UTC))
    )


async def remix_reply(message: Message, context: BotContext) -> bool:
    """If `message` answers a Remix question (from whoever tapped Remix), hand in the remix
    of that picture: the new instruction, the result and the result's own inputs. False if it
    is not such an answer (it is then an ordinary message)."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return False
    services = context.services
    asked = await services.storage.remix_prompt(message.chat_id, replied.message_id)
    if asked is None or asked.user_id != requester_id(message):
        return False
    job, refusal = await _stored_job(services, asked.job_id, message.chat_id)
    if job is None:
        await message.reply_text(refusal)
        return True
    prompt = prompt_of(message, context.bot)
    if not prompt:
        await message.reply_text(texts.EMPTY_PROMPT())
        return True
    if job.order.model not in services.availability.offered():
        await message.reply_text(texts.RESULT_MODEL_GONE())
        return True
    if job.result_file_id is None:
        await message.reply_text(texts.ORIGINAL_GONE())
        return True
    limit = capabilities_for(job.order.model).max_input_images
    file_ids = (job.result_file_id, *job.file_ids)[:limit]
    who = requester_of(message)
    order = dataclasses.replace(job.order, prompt=prompt, inputs=len(file_ids))
    try:
        await services.jobs.submit(Submission(who, order, job.output_format, file_ids))
    except LimitReached as exc:
        log.info("a remix refused before upstream: %s", exc)
        selling = services.settings.stars.enabled
        await message.reply_text(texts.limit_reached(exc, datetime.now(UTC), selling))
    return True


async def _send_original(query: CallbackQuery, job: Job) -> None:
    """The result as a PNG document (Telegram leaves documents uncompressed); no upstream call,
    so it costs nothing."""
    assert query.message is not None
    if job.result_file_id is None:
        await query.answer(texts.ORIGINAL_GONE())
        return
    try:
        picture = await original(query.get_bot(), job.result_file_id)
    except InputRejected as exc:
        log.info("could not fetch a result for its original: %s", exc.__cause__ or exc)
        await query.answer(texts.ORIGINAL_GONE())
        return
    await query.answer()
    await query.get_bot().send_document(
        query.message.chat.id,
        picture.data,
        filename=f"original-{job.id}.png",
        reply_parameters=ReplyParameters(
            query.message.message_id, allow_sending_without_reply=True
        ),
    )


async def _run_again(
    query: CallbackQuery, services: Services, job: Job, button: ResultButton
) -> None:
    # The model may have been replaced by its successor since (models.toml).
    model = services.availability.current(job.order.model)
    if model not in services.availability.offered():
        await query.answer(texts.RESULT_MODEL_GONE())
        return
    job = dataclasses.replace(job, order=fit_to_model(dataclasses.replace(job.order, model=model)))
    submission = _again(job, button, _tapper(query))
    if submission is None:
        answers = {
            ButtonKind.LARGER: texts.RESULT_CANNOT_ENLARGE,
            ButtonKind.TRANSFORM: texts.ORIGINAL_GONE,
        }
        await query.answer(answers.get(button.kind, texts.RESULT_BUTTON_UNKNOWN)())
        return
    if await _submit(query, services, submission) and button.kind is ButtonKind.RATIO:
        await query.edit_message_reply_markup(
            result_keyboard(job.id, job.order, new=job.options.conversation)
        )


def _tapper(query: CallbackQuery) -> Requester:
    """Who asks by tapping: the new job is theirs, answered in their language, as a reply to
    the tapped message."""
    assert query.message is not None
    chat = query.message.chat
    return Requester(
        user_id=query.from_user.id,
        chat_id=chat.id,
        message_id=query.message.message_id,
        in_group=chat.type != ChatType.PRIVATE,
        language=i18n.current().code,
    )


async def _submit(query: CallbackQuery, services: Services, submission: Submission) -> bool:
    """Hand a tap's request in and answer the tap; False if a limit refused it."""
    try:
        await services.jobs.submit(submission)
    except LimitReached as exc:
        log.info("a result button refused before upstream: %s", exc)
        selling = services.settings.stars.enabled
        text = texts.limit_reached(exc, datetime.now(UTC), selling)
        await query.answer(text[:_ANSWER_LIMIT], show_alert=True)
        return False
    await query.answer(texts.RESULT_BUTTON_TAKEN())
    return True


def _again(job: Job, button: ResultButton, who: Requester) -> Submission | None:
    """The new job a button asks for; None if the button cannot apply to this job (a ratio the
    model lacks, a result whose file was not kept)."""
    order, file_ids, kept = job.order, job.file_ids, job.options
    # Again, x4 or another ratio: the same turn of the same conversation.
    options = JobOptions(
        enlarge=kept.enlarge,
        transform=kept.transform,
        parent_id=kept.parent_id,
        thread_turn=kept.thread_turn,
        conversation=kept.conversation,
    )
    if button.kind is ButtonKind.FOUR:
        options = dataclasses.replace(options, images=VARIANTS)
    elif button.kind is ButtonKind.RATIO:
        if button.value is None or button.value not in capabilities_for(order.model).aspect_ratios:
            return None
        order = dataclasses.replace(order, aspect_ratio=button.value)
    elif button.kind is ButtonKind.LARGER:
        larger = larger_size(order)
        if larger is None or job.result_file_id is None:
            return None
        order = dataclasses.replace(order, image_size=larger, inputs=1)
        options, file_ids = JobOptions(enlarge=True), (job.result_file_id,)
    elif button.kind is ButtonKind.TRANSFORM:
        if job.result_file_id is None:
            return None
        assert button.value is not None  # ResultButton refuses a transform without one
        transform = Transform(button.value)
        order = transformed(order, transform)
        options, file_ids = JobOptions(transform=transform), (job.result_file_id,)
    return Submission(who, order, job.output_format, file_ids, options)
