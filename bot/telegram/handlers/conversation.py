"""/mode (each message on its own, or a conversation) and /new (a new conversation)."""

from __future__ import annotations

from telegram import Update

from bot import texts
from bot.jobs.conversation import Mode
from bot.telegram.handlers.settings import may_change
from bot.telegram.services import BotContext


async def mode_command(update: Update, context: BotContext) -> None:
    """`/mode` says which mode the chat is in; `/mode chat` or `/mode single` sets it (in a
    group, as any setting: per GROUP_SETTINGS). Either way the next message begins anew."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    services = context.services
    given = " ".join(context.args or ()).strip().lower()
    if not given:
        current = (await services.chat_settings(chat.id)).conversation
        shown = texts.MODE_CHAT() if current is Mode.CHAT else texts.MODE_SINGLE()
        await message.reply_text(f"{shown}\n\n{texts.MODE_USAGE()}")
        return
    if given not in set(Mode):
        await message.reply_text(texts.MODE_USAGE())
        return
    if not await may_change(services, context.bot, chat, message.from_user, message):
        await message.reply_text(texts.SETTINGS_ADMINS_ONLY())
        return
    mode = Mode(given)
    await services.storage.update_preferences(chat.id, conversation=mode.value)
    await services.storage.new_thread(chat.id)
    await message.reply_text(texts.MODE_CHAT() if mode is Mode.CHAT else texts.MODE_SINGLE())


async def new_command(update: Update, context: BotContext) -> None:
    """The chat's next message begins a new conversation."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    await context.services.storage.new_thread(chat.id)
    await message.reply_text(texts.NEW_THREAD())
