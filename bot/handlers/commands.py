"""Command handlers that are not settings: /start, /help, and unknown commands."""

from __future__ import annotations

from telegram import Update

from bot import texts
from bot.handlers.context import BotContext


async def help_command(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(texts.HELP.format(username=context.bot.username))


async def unknown_command(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(texts.UNKNOWN_COMMAND)
