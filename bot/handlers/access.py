"""The door: updates from people the operator has not let in stop here, before any handler."""

from __future__ import annotations

import logging

from cachetools import TTLCache
from telegram import Bot, Chat, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot import texts
from bot.config import AccessSettings
from bot.handlers.context import BotContext
from bot.handlers.inputs import addressed_to_bot

log = logging.getLogger(__name__)

# A refused user is told once in this many seconds, so that they are not spammed in groups.
REFUSAL_INTERVAL = 3600.0
# Membership of an allowed chat is looked up again after this many seconds.
MEMBERSHIP_TTL = 600.0
_MEMBER_STATUSES = {
    ChatMemberStatus.OWNER,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.MEMBER,
    ChatMemberStatus.RESTRICTED,
}


class Doorkeeper:
    """Admins, listed users and the members of listed chats get in; with no lists, everyone."""

    def __init__(self, access: AccessSettings) -> None:
        self._access = access
        # Bounded and self-expiring: a bot runs for months, and strangers keep coming.
        self._told: TTLCache[int, bool] = TTLCache(maxsize=100_000, ttl=REFUSAL_INTERVAL)
        self._members: TTLCache[int, bool] = TTLCache(maxsize=100_000, ttl=MEMBERSHIP_TTL)

    async def allows(self, bot: Bot, user_id: int, chat: Chat | None) -> bool:
        access = self._access
        if access.is_open or user_id in access.admin_user_ids:
            return True
        if user_id in access.allowed_user_ids:
            return True
        if chat is not None and chat.id in access.allowed_chat_ids:
            return True
        return await self._member_of_an_allowed_chat(bot, user_id)

    async def _member_of_an_allowed_chat(self, bot: Bot, user_id: int) -> bool:
        cached = self._members.get(user_id)
        if cached is not None:
            return cached
        member = False
        for chat_id in self._access.allowed_chat_ids:
            try:
                status = (await bot.get_chat_member(chat_id, user_id)).status
            except TelegramError as exc:
                log.info("membership of %s in %s unknown: %s", user_id, chat_id, exc)
                continue
            if status in _MEMBER_STATUSES:
                member = True
                break
        self._members[user_id] = member
        return member

    def should_tell(self, user_id: int) -> bool:
        if user_id in self._told:
            return False
        self._told[user_id] = True
        return True


async def door(update: Update, context: BotContext) -> None:
    """Runs before every other handler; stops the update unless its sender may use the bot."""
    user, chat = update.effective_user, update.effective_chat
    doorkeeper = context.services.doorkeeper
    if user is not None and await doorkeeper.allows(context.bot, user.id, chat):
        return
    if user is not None and _meant_for_bot(update, context.bot) and doorkeeper.should_tell(user.id):
        log.info("refused user %s in chat %s", user.id, chat.id if chat else None)
        if update.callback_query:
            await update.callback_query.answer(texts.access_refused(user.id), show_alert=True)
        elif update.effective_message:
            await update.effective_message.reply_text(texts.access_refused(user.id))
    raise ApplicationHandlerStop


def _meant_for_bot(update: Update, bot: Bot) -> bool:
    if update.callback_query:
        return True
    message = update.effective_message
    if message is None:
        return False
    if message.chat.type == ChatType.PRIVATE or addressed_to_bot(message, bot):
        return True
    command = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    target = command.partition("@")[2]
    return command.startswith("/") and target.lower() in ("", bot.username.lower())
