"""The door: updates from people the operator has not let in stop here, before any handler."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cachetools import TTLCache
from telegram import Bot, Chat, Message, Update
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
# ...or after this many, when Telegram could not say (an error, a timeout): soon enough not to
# keep a member out for long, late enough that a burst of messages costs one lookup.
UNSURE_TTL = 30.0
_MEMBER_STATUSES = {
    ChatMemberStatus.OWNER,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.MEMBER,
    ChatMemberStatus.RESTRICTED,
}


def sender_chat_of(update: Update) -> Chat | None:
    """The chat a message was sent on behalf of (an anonymous admin's group, a channel), whose
    `from` is a service account (GroupAnonymousBot, Channel_Bot) shared by everyone doing so."""
    if update.callback_query is None and update.effective_message is not None:
        return update.effective_message.sender_chat
    return None  # a button's message is the bot's own; the user who tapped it is real


def requester_id(message: Message) -> int | None:
    """Whom a message counts against for limits and quotas: the chat it was sent on behalf of,
    if any, else its user."""
    if message.sender_chat is not None:
        return message.sender_chat.id
    return message.from_user.id if message.from_user else None


class Doorkeeper:
    """Admins, listed users, the members of listed chats and messages sent on behalf of listed
    chats get in; with ALLOW_EVERYONE=true and no lists, everyone."""

    def __init__(self, access: AccessSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._access = access
        # Bounded and self-expiring: a bot runs for months, and strangers keep coming.
        self._told: TTLCache[int, bool] = TTLCache(100_000, REFUSAL_INTERVAL, timer=clock)
        self._members: TTLCache[int, bool] = TTLCache(100_000, MEMBERSHIP_TTL, timer=clock)
        self._unsure: TTLCache[int, bool] = TTLCache(100_000, UNSURE_TTL, timer=clock)

    async def allows(
        self, bot: Bot, user_id: int, chat: Chat | None, sender_chat: Chat | None = None
    ) -> bool:
        access = self._access
        if access.is_open or (chat is not None and chat.id in access.allowed_chat_ids):
            return True
        if sender_chat is not None:
            # The user is a service account that stands for everyone posting as some chat: only
            # that chat can be let in, never the account as a user.
            return sender_chat.id in access.allowed_chat_ids
        if user_id in access.admin_user_ids or user_id in access.allowed_user_ids:
            return True
        return await self._member_of_an_allowed_chat(bot, user_id)

    async def _member_of_an_allowed_chat(self, bot: Bot, user_id: int) -> bool:
        cached = self._members.get(user_id)
        if cached is not None:
            return cached
        if user_id in self._unsure:
            return False
        member, sure = False, True
        for chat_id in self._access.allowed_chat_ids:
            try:
                status = (await bot.get_chat_member(chat_id, user_id)).status
            except TelegramError as exc:
                log.info("membership of %s in %s unknown: %s", user_id, chat_id, exc)
                sure = False
                continue
            if status in _MEMBER_STATUSES:
                member = True
                break
        # Only a definite answer is kept for long: a failed lookup must not lock a member out.
        if member or sure:
            self._members[user_id] = member
        else:
            self._unsure[user_id] = True
        return member

    def should_tell(self, sender_id: int) -> bool:
        if sender_id in self._told:
            return False
        self._told[sender_id] = True
        return True


def warn_about_access(access: AccessSettings) -> None:
    """At start-up: who will be served, when that is not just the allow-lists, and which
    setting changes it."""
    if access.is_open:
        limit = f"{access.daily_images} images a day" if access.daily_images else "no daily limit"
        log.warning(
            "ALLOW_EVERYONE=true and no allow-list: anyone who finds this bot can use it, and "
            "every image is paid from your Eden AI account; non-admins have %s "
            "(USER_DAILY_IMAGES, USER_MONTHLY_BUDGET_USD)",
            limit,
        )
    elif access.allow_everyone:
        log.warning(
            "ALLOW_EVERYONE=true is ignored: ALLOWED_USER_IDS or ALLOWED_CHAT_IDS is set, and "
            "only those (and ADMIN_USER_IDS) are served"
        )
    elif not access.has_allow_list:
        log.warning(
            "Neither ALLOWED_USER_IDS nor ALLOWED_CHAT_IDS is set: only ADMIN_USER_IDS (%s) are "
            "served. Anyone else who messages the bot is told their id, and it is logged: add "
            "it to ALLOWED_USER_IDS or ADMIN_USER_IDS, or set ALLOW_EVERYONE=true to serve "
            "everyone",
            ", ".join(map(str, access.admin_user_ids)) or "none yet",
        )


async def door(update: Update, context: BotContext) -> None:
    """Runs before every other handler; stops the update unless its sender may use the bot.

    Stopping depends on nothing else succeeding: the handlers behind the door spend the
    operator's money, so if the refusal cannot be sent (no right to write in the group, a
    timeout, a 429) or a lookup fails, the update is dropped all the same."""
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
    """Tell a refused sender, once an hour, the id the operator needs to let them in."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or not _meant_for_bot(update, context.bot):
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
    if update.callback_query:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message:
        await update.effective_message.reply_text(text)


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
