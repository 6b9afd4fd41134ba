"""Admin commands, for ADMIN_USER_IDS only: /admin, /allow, /deny, /quota, /budget. They change
the stored overrides (bot/overrides.py), which take effect at once."""

from __future__ import annotations

import math

from telegram import Message, Update

from bot import texts
from bot.store.unrecorded import UnrecordedPayments
from bot.telegram.handlers.access import requester_id
from bot.telegram.services import BotContext

# Telegram ids fit in 52 bits; anything longer is not one.
_MAX_ID_DIGITS = 16


async def admin_message(update: Update, context: BotContext) -> tuple[Message, int] | None:
    """The command's message and its admin's id; a non-admin is told and gets None."""
    message = update.effective_message
    if message is None:
        return None
    who = requester_id(message)
    if who is None or not context.services.policy.is_admin(who):
        await message.reply_text(texts.ADMINS_ONLY())
        return None
    return message, who


def parse_id(text: str) -> int | None:
    """A user or chat id written by an admin, or None."""
    digits = text.removeprefix("-")
    if not digits.isdigit() or len(digits) > _MAX_ID_DIGITS:
        return None
    return int(text) or None


def _replied_to(message: Message) -> Message | None:
    """The message a command replies to, if the admin chose it: in a forum topic, Telegram
    makes every message a reply to the topic's first one (its creation), which names no one."""
    reply = message.reply_to_message
    if reply is None or reply.forum_topic_created is not None:
        return None
    return reply


def _target(message: Message, args: list[str], values: int) -> tuple[int | None, list[str]]:
    """The user or chat a command is about (its first argument, or the author of the message it
    replies to) and the arguments that follow."""
    reply = _replied_to(message)
    if reply is not None and len(args) == values:
        return requester_id(reply), args
    if len(args) == values + 1:
        return parse_id(args[0]), args[1:]
    return None, args


async def _admin_target(
    update: Update, context: BotContext, values: int
) -> tuple[Message, int, int, list[str]] | None:
    """For /allow, /deny, /quota, /budget: the message, its admin, the user or chat it is about
    and the values that follow; a non-admin or a missing target is told, and gets None. A reply
    names its user only: one to a message sent on behalf of a chat (an anonymous admin, a
    channel) would name a whole chat, so its id must be typed."""
    found = await admin_message(update, context)
    if found is None:
        return None
    message, admin = found
    args = list(context.args or [])
    reply = _replied_to(message)
    if reply is not None and reply.sender_chat is not None and len(args) == values:
        await message.reply_text(texts.admin_chat_needs_id(reply.sender_chat.id))
        return None
    subject, rest = _target(message, args, values)
    if subject is None:
        await message.reply_text(texts.ADMIN_NEEDS_TARGET())
        return None
    return message, admin, subject, rest


async def admin_command(update: Update, context: BotContext) -> None:
    found = await admin_message(update, context)
    if found is None:
        return
    message, _ = found
    services = context.services
    overrides = services.overrides
    unrecorded = UnrecordedPayments(services.settings.bot.data_dir)
    waiting = [k.payment for k in await unrecorded.unrecorded(services.storage)]
    await message.reply_text(
        texts.admin_overview(
            overrides.rules, overrides.all_limits, await overrides.audit_log(), waiting
        )
    )


async def allow_command(update: Update, context: BotContext) -> None:
    await _set_access(update, context, allowed=True)


async def deny_command(update: Update, context: BotContext) -> None:
    await _set_access(update, context, allowed=False)


async def _set_access(update: Update, context: BotContext, *, allowed: bool) -> None:
    found = await _admin_target(update, context, values=0)
    if found is None:
        return
    message, admin, subject, _ = found
    if not allowed and context.services.policy.is_admin(subject):
        await message.reply_text(texts.ADMIN_CANNOT_DENY_ADMIN())
        return
    await context.services.overrides.set_access(admin, subject, allowed)
    await message.reply_text(texts.admin_access_changed(subject, allowed))


async def quota_command(update: Update, context: BotContext) -> None:
    found = await _admin_target(update, context, values=1)
    if found is None:
        return
    message, admin, subject, [given] = found
    if not given.isdigit() or len(given) > 6:
        await message.reply_text(texts.admin_bad_number(given, texts.ADMIN_QUOTA_NUMBER))
        return
    await context.services.overrides.set_daily_images(admin, subject, int(given))
    await message.reply_text(texts.admin_quota_changed(subject, int(given)))


async def budget_command(update: Update, context: BotContext) -> None:
    found = await _admin_target(update, context, values=1)
    if found is None:
        return
    message, admin, subject, [given] = found
    try:
        usd = float(given.removeprefix("$"))
    except ValueError:
        usd = -1.0
    if not math.isfinite(usd) or usd < 0 or usd > 1e6:
        await message.reply_text(texts.admin_bad_number(given, texts.ADMIN_BUDGET_NUMBER))
        return
    await context.services.overrides.set_monthly_budget(admin, subject, usd)
    await message.reply_text(texts.admin_budget_changed(subject, usd))
