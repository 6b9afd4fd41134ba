"""Message handlers: a prompt, with any photos, files, album or replied-to image, is a request;
/describe and /enhance ask the text model for a prompt."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from telegram import Message, Update

from bot import texts
from bot.chat_settings import ChatSettings
from bot.decoding import InputRejected
from bot.domain import Order
from bot.jobs.conversation import Mode
from bot.jobs.model import Job, JobOptions, Words
from bot.jobs.policy import LimitReached
from bot.jobs.queue import Submission
from bot.telegram.files import ImageFile
from bot.telegram.handlers.access import requester_of
from bot.telegram.handlers.buttons import remix_reply
from bot.telegram.handlers.presets import prompt_with_preset
from bot.telegram.handlers.reading import addressed_to_bot, image_files, prompt_of
from bot.telegram.handlers.references import UnknownReferences, attached
from bot.telegram.services import BotContext

log = logging.getLogger(__name__)


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
    if await remix_reply(message, context):
        return
    await _request(album, context)


async def preset_prompt_command(update: Update, context: BotContext) -> None:
    """`/p NAME text` typed: a request like any other (its handler saw it is meant for the bot)."""
    if update.effective_message:
        await _request([update.effective_message], context)


async def _request(album: list[Message], context: BotContext) -> None:
    # The album item with the caption carries the prompt and gets the answer.
    lead = next((m for m in album if m.text or m.caption), album[0])
    chat = await context.services.chat_settings(lead.chat_id)
    if chat.notes:
        await lead.reply_text("\n".join(chat.notes))
    turn = await _replied_turn(lead, context)
    try:
        # A reply to a result of a kept conversation brings that picture as the thread's turn.
        replied_to = lead.reply_to_message if turn is None else None
        replied = image_files(replied_to) if replied_to else []
        files = replied + [f for m in album for f in image_files(m)]
    except InputRejected as exc:
        await lead.reply_text(str(exc))
        return
    prompt = await prompt_with_preset(
        lead, context, prompt_of(lead, context.bot), bool(files), chosen_waiting=chat.preset_waiting
    )
    if prompt is None:
        return
    if not prompt:
        await lead.reply_text(texts.PHOTO_WITHOUT_CAPTION() if files else texts.EMPTY_PROMPT())
        return
    try:
        # `#name`s attach saved pictures after the message's own.
        marked = await attached(lead, prompt, context)
    except UnknownReferences as exc:
        await lead.reply_text(texts.unknown_refs(exc.names, exc.known))
        return
    files, prompt = files + marked.files, marked.prompt
    if turn is None and chat.conversation is Mode.CHAT:
        turn = await context.services.storage.thread_head(lead.chat_id)
    await _fulfil(lead, context, chat, prompt, files, turn)


async def _replied_turn(message: Message, context: BotContext) -> Job | None:
    """The job whose result `message` replies to, while it is kept: the message continues its
    conversation."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    return await context.services.storage.result_job(message.chat_id, replied.message_id)


async def unsupported_message(update: Update, context: BotContext) -> None:
    """Stickers, videos, voice notes...: a hint, if the message was meant for the bot."""
    message = update.effective_message
    if message and addressed_to_bot(message, context.bot):
        await message.reply_text(texts.UNSUPPORTED_MESSAGE())


async def describe_command(update: Update, context: BotContext) -> None:
    """/describe as a reply to a photo, or as a photo's caption: the text model writes a prompt
    that would draw it."""
    message = update.effective_message
    if message is None or not _for_this_bot(message, context):
        return
    try:
        files = image_files(message)
        if not files and message.reply_to_message:
            files = image_files(message.reply_to_message)
    except InputRejected as exc:
        await message.reply_text(str(exc))
        return
    if not files:
        await message.reply_text(texts.DESCRIBE_USAGE())
        return
    chat = await context.services.chat_settings(message.chat_id)
    await _fulfil(message, context, chat, "/describe", files[:1], words=Words.DESCRIBE)


async def enhance_command(update: Update, context: BotContext) -> None:
    """/enhance a short prompt: the text model makes it a detailed one."""
    message = update.effective_message
    if message is None:
        return
    prompt = " ".join(context.args or ())
    if not prompt:
        await message.reply_text(texts.ENHANCE_USAGE())
        return
    chat = await context.services.chat_settings(message.chat_id)
    await _fulfil(message, context, chat, prompt, [], words=Words.ENHANCE)


def _for_this_bot(message: Message, context: BotContext) -> bool:
    """A caption `/describe@OtherBot` is another bot's command (CommandHandler checks text)."""
    command = (message.text or message.caption or "").split(maxsplit=1)[0]
    _, _, name = command.partition("@")
    return not name or name.lower() == context.bot.username.lower()


async def _fulfil(
    message: Message,
    context: BotContext,
    chat: ChatSettings,
    prompt: str,
    files: list[ImageFile],
    parent: Job | None = None,
    words: Words | None = None,
) -> None:
    """Hand the request in and return: a worker answers it. Its images are only referenced here
    (by `file_id`); they are fetched when its turn comes, so a user over a limit costs nothing.
    A request continuing a conversation (`parent`) leaves room for the picture it changes.
    `words`: a job for the text model, which makes no picture."""
    conversation = chat.conversation is Mode.CHAT
    options = JobOptions(conversation=conversation)
    if words is not None:
        options = JobOptions(images=0, words=words)
    elif parent is not None:
        options = JobOptions(
            parent_id=parent.id,
            thread_turn=parent.options.thread_turn + 1,
            conversation=conversation,
        )
    earlier = 0 if parent is None else 1
    limit = chat.capabilities.max_input_images - earlier
    submission = Submission(
        who=requester_of(message),
        order=Order(
            prompt=prompt,
            model=context.services.settings.eden.text_model if words else chat.model,
            aspect_ratio=chat.aspect_ratio,
            image_size=chat.image_size,
            inputs=min(len(files), limit) + earlier,
        ),
        output_format=chat.output_format,
        file_ids=tuple(f.file_id for f in files[:limit]),
        options=options,
    )
    try:
        await context.services.jobs.submit(submission)
    except LimitReached as exc:
        log.info("request refused before upstream: %s", exc)
        selling = context.services.settings.stars.enabled
        await message.reply_text(texts.limit_reached(exc, datetime.now(UTC), selling))
        return
    if len(files) > limit:
        await message.reply_text(texts.images_left_out(limit, len(files)))
