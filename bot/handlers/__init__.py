"""Translating Telegram updates into requests and results into messages: the handler table."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot import texts
from bot.handlers.commands import help_command, ratio_command, size_command, unknown_command
from bot.handlers.context import BotContext
from bot.handlers.prompts import photo_prompt, text_prompt, unsupported_message

log = logging.getLogger(__name__)

_NEW_PRIVATE_MESSAGE = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE


def register(application: Application[Any, BotContext, Any, Any, Any, Any]) -> None:
    # Within a group only the first matching handler runs, so the catch-alls come last.
    application.add_handlers(
        [
            CommandHandler(["start", "help"], help_command),
            CommandHandler("ratio", ratio_command),
            CommandHandler("size", size_command),
            MessageHandler(_NEW_PRIVATE_MESSAGE & filters.COMMAND, unknown_command),
            MessageHandler(_NEW_PRIVATE_MESSAGE & filters.TEXT, text_prompt),
            MessageHandler(_NEW_PRIVATE_MESSAGE & filters.PHOTO, photo_prompt),
            MessageHandler(_NEW_PRIVATE_MESSAGE, unsupported_message),
        ]
    )
    application.add_error_handler(on_error)


async def on_error(update: object, context: BotContext) -> None:
    """Anything unforeseen: the details go to the log, the user gets an apology, never a trace."""
    log.error("unhandled error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(texts.UNEXPECTED_ERROR)
        except Exception:
            log.warning("could not tell the user about the error", exc_info=True)
