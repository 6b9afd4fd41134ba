"""Translating Telegram updates into requests and results into messages: the handler table."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.error import NetworkError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    TypeHandler,
    filters,
)

from bot import texts
from bot.telegram.handlers.access import door
from bot.telegram.handlers.admin import (
    admin_command,
    allow_command,
    budget_command,
    deny_command,
    quota_command,
)
from bot.telegram.handlers.buttons import result_button
from bot.telegram.handlers.commands import (
    cancel_button,
    cancel_command,
    help_command,
    stats_command,
    unknown_command,
    usage_command,
)
from bot.telegram.handlers.conversation import mode_command, new_command
from bot.telegram.handlers.history import HistoryButton, history_button, history_command
from bot.telegram.handlers.inline import chosen_inline_result, inline_query
from bot.telegram.handlers.language import (
    LanguageButton,
    language_button,
    language_command,
    speak_their_language,
)
from bot.telegram.handlers.messages import (
    describe_command,
    enhance_command,
    on_message,
    preset_prompt_command,
    unsupported_message,
)
from bot.telegram.handlers.payments import (
    BuyButton,
    buy_button,
    buy_command,
    paysupport_command,
    pre_checkout,
    refund_command,
    refunded_payment,
    successful_payment,
)
from bot.telegram.handlers.presets import (
    PresetButton,
    preset_button,
    preset_command,
    presets_command,
)
from bot.telegram.handlers.references import RefButton, ref_button, ref_command, refs_command
from bot.telegram.handlers.settings import (
    SETTINGS,
    SettingButton,
    setting_button,
    setting_command,
    settings_command,
    unknown_button,
)
from bot.telegram.notes import CancelButton
from bot.telegram.result_buttons import ResultButton
from bot.telegram.services import BotContext

log = logging.getLogger(__name__)

_NEW_MESSAGE = filters.UpdateType.MESSAGE


def _in_caption(
    command: str,
    media: filters.BaseFilter,
    callback: Callable[[Update, BotContext], Coroutine[Any, Any, None]],
) -> MessageHandler[BotContext, None]:
    """`/command …` as the caption of a new message with `media` (CommandHandler reads texts
    only)."""
    caption = filters.CaptionRegex(rf"^/{command}(@\w+)?(\s|$)")
    return MessageHandler(_NEW_MESSAGE & media & caption, callback)


def register(application: Application[Any, BotContext, Any, Any, Any, Any]) -> None:
    # Within a group only the first matching handler runs, so the catch-alls come last. In group
    # chats CommandHandler answers `/cmd` and `/cmd@ThisBot` and ignores `/cmd@OtherBot`; the
    # message handlers check for themselves whether a message is meant for the bot.
    # The language before the door: the door's refusal is in it too.
    application.add_handler(TypeHandler(Update, speak_their_language), group=-2)
    application.add_handler(TypeHandler(Update, door), group=-1)
    application.add_handlers(
        [
            CommandHandler(["start", "help"], help_command),
            CommandHandler("usage", usage_command),
            CommandHandler("cancel", cancel_command),
            CommandHandler("stats", stats_command),
            CommandHandler("admin", admin_command),
            CommandHandler("allow", allow_command),
            CommandHandler("deny", deny_command),
            CommandHandler("quota", quota_command),
            CommandHandler("budget", budget_command),
            CommandHandler("buy", buy_command),
            CommandHandler("paysupport", paysupport_command),
            CommandHandler("refund", refund_command),
            CommandHandler("language", language_command),
            CommandHandler("presets", presets_command),
            CommandHandler("preset", preset_command),
            CommandHandler("p", preset_prompt_command),
            CallbackQueryHandler(preset_button, pattern=PresetButton.pattern()),
            CommandHandler("history", history_command),
            CallbackQueryHandler(history_button, pattern=HistoryButton.pattern()),
            CommandHandler("describe", describe_command),
            CommandHandler("enhance", enhance_command),
            _in_caption("describe", filters.PHOTO | filters.Document.IMAGE, describe_command),
            CommandHandler("mode", mode_command),
            CommandHandler("new", new_command),
            CommandHandler("ref", ref_command),
            CommandHandler("refs", refs_command),
            # `/ref add NAME` as a photo's caption.
            _in_caption("ref", filters.PHOTO | filters.Document.ALL, ref_command),
            CallbackQueryHandler(ref_button, pattern=RefButton.pattern()),
            CallbackQueryHandler(language_button, pattern=LanguageButton.pattern()),
            CallbackQueryHandler(buy_button, pattern=BuyButton.pattern()),
            PreCheckoutQueryHandler(pre_checkout),
            MessageHandler(filters.SUCCESSFUL_PAYMENT, successful_payment),
            MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, refunded_payment),
            CommandHandler(list(SETTINGS), setting_command),
            CommandHandler("settings", settings_command),
            CallbackQueryHandler(setting_button, pattern=SettingButton.pattern()),
            CallbackQueryHandler(cancel_button, pattern=CancelButton.pattern()),
            CallbackQueryHandler(result_button, pattern=ResultButton.pattern()),
            CallbackQueryHandler(unknown_button),
            InlineQueryHandler(inline_query),
            ChosenInlineResultHandler(chosen_inline_result),
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
    application.add_error_handler(ErrorReporter())


class ErrorReporter:
    """The error handler. An unforeseen error is logged and the user gets an apology, never a
    trace; a lost connection to Telegram while polling is logged once per outage."""

    # Polling errors further apart than this belong to different outages.
    OUTAGE_GAP = 120.0

    def __init__(self) -> None:
        self._last_polling_error: float | None = None

    async def __call__(self, update: object, context: BotContext) -> None:
        if update is None and isinstance(context.error, NetworkError):
            self._polling_failed(context.error)
            context.services.metrics.polling_failed()
            return
        log.error("unhandled error while handling an update", exc_info=context.error)
        if isinstance(update, Update):
            await self._apologise(update)

    @staticmethod
    async def _apologise(update: Update) -> None:
        try:
            if update.callback_query:
                # A button's message is the bot's own: answer the tap, which stops its spinner.
                await update.callback_query.answer(texts.UNEXPECTED_ERROR())
            elif update.effective_message:
                await update.effective_message.reply_text(texts.UNEXPECTED_ERROR())
        except Exception:
            log.warning("could not tell the user about the error", exc_info=True)

    def _polling_failed(self, error: NetworkError) -> None:
        # PTB keeps polling with a growing pause; saying so every few seconds helps nobody.
        now = time.monotonic()
        new_outage = (
            self._last_polling_error is None or now - self._last_polling_error > self.OUTAGE_GAP
        )
        self._last_polling_error = now
        if new_outage:
            log.warning("cannot reach Telegram (%s); retrying quietly until it answers", error)
        else:
            log.debug("still cannot reach Telegram: %s", error)
