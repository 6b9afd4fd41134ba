"""Translating Telegram updates into requests and results into messages: the handler table."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import texts
from bot.handlers.access import door
from bot.handlers.commands import help_command, stats_command, unknown_command, usage_command
from bot.handlers.context import BotContext
from bot.handlers.messages import on_message, unsupported_message
from bot.handlers.settings import (
    CALLBACK_PREFIX,
    SETTINGS,
    setting_button,
    setting_command,
    settings_command,
)

log = logging.getLogger(__name__)

_NEW_MESSAGE = filters.UpdateType.MESSAGE


def register(application: Application[Any, BotContext, Any, Any, Any, Any]) -> None:
    # Within a group only the first matching handler runs, so the catch-alls come last. In group
    # chats CommandHandler answers `/cmd` and `/cmd@ThisBot` and ignores `/cmd@OtherBot`; the
    # message handlers check for themselves whether a message is meant for the bot.
    application.add_handler(TypeHandler(Update, door), group=-1)
    application.add_handlers(
        [
            CommandHandler(["start", "help"], help_command),
            CommandHandler("usage", usage_command),
            CommandHandler("stats", stats_command),
            CommandHandler(list(SETTINGS), setting_command),
            CommandHandler("settings", settings_command),
            CallbackQueryHandler(setting_button, pattern=rf"^{CALLBACK_PREFIX}\|"),
            MessageHandler(
                _NEW_MESSAGE & filters.ChatType.PRIVATE & filters.COMMAND, unknown_command
            ),
            MessageHandler(
                _NEW_MESSAGE
                & ~filters.COMMAND
                & (filters.TEXT | filters.PHOTO | filters.Document.ALL),
                on_message,
            ),
            MessageHandler(
                _NEW_MESSAGE & ~filters.COMMAND & ~filters.StatusUpdate.ALL, unsupported_message
            ),
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
