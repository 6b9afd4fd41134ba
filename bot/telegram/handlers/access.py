"""The door: updates from people the operator has not let in stop here, before any handler."""

from __future__ import annotations

import logging

from telegram import Bot, Chat, InlineQueryResultsButton, Message, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot import i18n, texts
from bot.jobs.model import Requester
from bot.telegram.handlers.reading import addressed_to_bot
from bot.telegram.services import BotContext

log = logging.getLogger(__name__)


def sender_chat_of(update: Update) -> Chat | None:
    """The chat a message was sent on behalf of (an anonymous admin's group, a channel), whose
    `from` is a service account (GroupAnonymousBot, Channel_Bot) shared by everyone doing so."""
    if update.callback_query is None and update.effective_message is not None:
        return update.effective_message.sender_chat
    return None  # a button's message is the bot's own; the user who tapped it is real


def requester_id(message: Message) -> int | None:
    """Whom a message counts against for limits and quotas: its user, or, for a message sent on
    behalf of a chat, the chat it was sent in. Nobody can tell who writes as a chat (an
    anonymous admin of the group, or the owner of a channel posting there), so all of them
    share that group's allowances: posting as several channels gets no fresh quota each."""
    if message.sender_chat is not None:
        return message.chat.id
    return message.from_user.id if message.from_user else None


def requester_of(message: Message) -> Requester:
    """Who asks with `message`, for a job: counted as requester_id says, answered in the
    update's language, as a reply to the message."""
    return Requester(
        user_id=requester_id(message),
        chat_id=message.chat_id,
        message_id=message.message_id,
        in_group=message.chat.type != ChatType.PRIVATE,
        language=i18n.current().code,
    )


async def door(update: Update, context: BotContext) -> None:
    """Runs before every other handler; stops the update unless its sender may use the bot.

    Stopping depends on nothing else succeeding: the handlers behind the door spend the
    operator's money, so if the refusal cannot be sent (no right to write in the group, a
    timeout, a 429) or a lookup fails, the update is dropped all the same. Payments pass: a
    pre-checkout query is answered (no, to someone not let in) rather than left to time out,
    Stars already taken are always credited, and refunded ones always taken back."""
    message = update.effective_message
    if update.pre_checkout_query or (
        message is not None and (message.successful_payment or message.refunded_payment)
    ):
        return
    try:
        if await _lets_in(update, context):
            return
        await _turn_away(update, context)
    except Exception:
        log.warning("the door failed on an update; it is dropped", exc_info=True)
    raise ApplicationHandlerStop


async def _lets_in(update: Update, context: BotContext) -> bool:
    user = update.effective_user
    if user is None:
        return False  # a channel post, a poll: nobody to serve
    doorkeeper = context.services.doorkeeper
    return await doorkeeper.allows(
        context.bot, user.id, update.effective_chat, sender_chat_of(update)
    )


async def _turn_away(update: Update, context: BotContext) -> None:
    """Tell a refused sender the id the operator needs to let them in: every time where only they
    see it (a button's answer, inline mode), else once an hour, so that groups are not spammed."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or not _meant_for_bot(update, context.bot):
        return
    if update.callback_query or update.inline_query or update.chosen_inline_result:
        await _tell_privately(update, context.bot, texts.access_refused(user.id))
        return
    sender_chat = sender_chat_of(update)
    sender_id = sender_chat.id if sender_chat else user.id
    if not context.services.doorkeeper.should_tell(sender_id):
        return
    where = chat.id if chat else None
    if sender_chat:
        log.info(
            "refused chat %s (posting as itself) in chat %s; to let it in, add %s to "
            "ALLOWED_CHAT_IDS",
            sender_id,
            where,
            sender_id,
        )
        text = texts.access_refused_chat(sender_id)
    else:
        log.info(
            "refused user %s in chat %s; to let them in, add %s to ALLOWED_USER_IDS or "
            "ADMIN_USER_IDS (or set ALLOW_EVERYONE=true with no allow-list)",
            sender_id,
            where,
            sender_id,
        )
        text = texts.access_refused(sender_id)
    if update.effective_message:
        await update.effective_message.reply_text(text)


async def _tell_privately(update: Update, bot: Bot, text: str) -> None:
    """A refusal only its user sees: a tap's answer (every tap is answered), an inline answer
    offering the private chat (where the bot tells the id), an inline message's text."""
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    elif update.inline_query:
        start = InlineQueryResultsButton(texts.INLINE_PRIVATE(), start_parameter="private")
        await update.inline_query.answer([], cache_time=0, is_personal=True, button=start)
    elif update.chosen_inline_result and update.chosen_inline_result.inline_message_id:
        await bot.edit_message_text(
            text, inline_message_id=update.chosen_inline_result.inline_message_id
        )


def _meant_for_bot(update: Update, bot: Bot) -> bool:
    if update.callback_query or update.inline_query or update.chosen_inline_result:
        return True
    message = update.effective_message
    if message is None:
        return False
    if message.chat.type == ChatType.PRIVATE or addressed_to_bot(message, bot):
        return True
    command = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    target = command.partition("@")[2]
    return command.startswith("/") and target.lower() in ("", bot.username.lower())
