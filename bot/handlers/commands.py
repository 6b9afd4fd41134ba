"""Command handlers: /start, /help, and the per-chat /ratio and /size settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from telegram import Update

from bot import texts
from bot.catalog import ModelCapabilities, normalize_ratio, normalize_size
from bot.handlers.context import BotContext, ChatSettings


async def help_command(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(texts.HELP)


async def unknown_command(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(texts.UNKNOWN_COMMAND)


@dataclass(frozen=True, slots=True)
class Setting:
    """One per-chat setting: how to read it from the user, what the model allows, where it lives."""

    label: str
    field: str
    example: str
    command: str
    normalize: Callable[[str], str | None]
    allowed: Callable[[ModelCapabilities], tuple[str, ...]]
    current: Callable[[ChatSettings], str]


RATIO = Setting(
    label="aspect ratio",
    field="aspect_ratio",
    example="16:9",
    command="ratio",
    normalize=normalize_ratio,
    allowed=lambda caps: caps.aspect_ratios,
    current=lambda chat: chat.aspect_ratio,
)
SIZE = Setting(
    label="size",
    field="image_size",
    example="2K",
    command="size",
    normalize=normalize_size,
    allowed=lambda caps: caps.image_sizes,
    current=lambda chat: chat.image_size,
)


async def ratio_command(update: Update, context: BotContext) -> None:
    await _setting_command(update, context, RATIO)


async def size_command(update: Update, context: BotContext) -> None:
    await _setting_command(update, context, SIZE)


async def _setting_command(update: Update, context: BotContext, setting: Setting) -> None:
    """No argument: show the value and the choices. An argument: validate it, then store it."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    services = context.services
    current = await services.chat_settings(chat.id)
    allowed = setting.allowed(current.capabilities)
    if not context.args:
        await message.reply_text(
            texts.setting_current(
                setting.label,
                setting.current(current),
                allowed,
                f"/{setting.command} {setting.example}",
            )
        )
        return
    given = " ".join(context.args)
    value = setting.normalize(given)
    if value is None:
        await message.reply_text(texts.setting_unknown(setting.label, given, allowed))
    elif value not in allowed:
        await message.reply_text(
            texts.setting_unsupported(setting.label, value, current.model, allowed)
        )
    else:
        await services.storage.update_preferences(chat.id, **{setting.field: value})
        await message.reply_text(texts.setting_changed(setting.label, value))
