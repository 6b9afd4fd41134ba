"""The per-chat settings: /ratio, /size, /format, /model (typed or by button) and /settings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from telegram import (
    Bot,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ChatType

from bot import texts
from bot.chat_settings import ChatSettings
from bot.i18n import Text
from bot.lineup.catalog import normalize_format, normalize_ratio, normalize_size
from bot.telegram.callbacks import Alphabet, CallbackData
from bot.telegram.services import BotContext, Services


@dataclass(frozen=True, slots=True)
class Setting:
    """One per-chat setting: its command, how to read a typed value, where it is stored."""

    command: str
    label: Text
    field: str
    example: str
    normalize: Callable[[str], str | None]
    columns: int


def _normalize_model(text: str) -> str | None:
    # The real check is against the allowed models, done by the caller; here only the form.
    return text.strip() or None


SETTINGS = {
    s.command: s
    for s in (
        Setting("ratio", texts.RATIO, "aspect_ratio", "/ratio 16:9", normalize_ratio, 5),
        Setting("size", texts.SIZE, "image_size", "/size 2K", normalize_size, 4),
        Setting("format", texts.FORMAT, "output_format", "/format file", normalize_format, 2),
        Setting("model", texts.MODEL, "model", "/model <name>", _normalize_model, 1),
    )
}


@dataclass(frozen=True, slots=True)
class SettingButton(CallbackData, prefix="set"):
    """A settings button: which setting (its command), and the value it sets; a value may be a
    model's name, slash and all."""

    command: str
    value: Annotated[str, Alphabet(re.compile(r"[\w:.\-+/]*"))]

    def __post_init__(self) -> None:
        if self.command not in SETTINGS:
            raise ValueError(f"no setting {self.command!r}")


async def setting_command(update: Update, context: BotContext) -> None:
    """`/ratio` shows the value with buttons; `/ratio 16:9` sets it."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or not message.text:
        return
    command = message.text.split()[0].lstrip("/").split("@")[0].lower()
    setting = SETTINGS[command]
    services = context.services
    current = await services.chat_settings(chat.id)
    if not context.args:
        shown = texts.setting_current(
            setting.label(),
            getattr(current, setting.field),
            current.choices(setting.field),
            setting.example,
        )
        await message.reply_text(
            "\n".join((*current.notes, shown)), reply_markup=_keyboard(setting, current)
        )
        return
    given = " ".join(context.args)
    if not await may_change(services, context.bot, chat, message.from_user, message):
        await message.reply_text(texts.SETTINGS_ADMINS_ONLY())
        return
    await message.reply_text(await _change(services, chat.id, current, setting, given))


async def settings_command(update: Update, context: BotContext) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    current = await context.services.chat_settings(chat.id)
    overview = texts.settings_overview(
        current.model, current.aspect_ratio, current.image_size, current.output_format
    )
    await message.reply_text("\n".join((*current.notes, overview)))


async def setting_button(update: Update, context: BotContext) -> None:
    """A tap on a settings button. Anyone can send any callback data,
    and a keyboard outlives a model change: a value that is not a current choice changes
    nothing, and every tap is answered (until then the client shows the button spinning)."""
    query = update.callback_query
    if query is None:
        return
    button = SettingButton.unpack(query.data)
    if button is None or query.message is None:
        await query.answer(texts.UNKNOWN_BUTTON())
        return
    setting, value = SETTINGS[button.command], button.value
    chat = query.message.chat
    services = context.services
    if not await may_change(services, context.bot, chat, query.from_user, None):
        await query.answer(texts.SETTINGS_ADMINS_ONLY(), show_alert=True)
        return
    current = await services.chat_settings(chat.id)
    if value not in current.choices(setting.field):
        await query.answer(texts.button_choice_gone(setting.label(), setting.command))
        return
    reply = await _change(services, chat.id, current, setting, value)
    await query.answer()
    await query.edit_message_text(reply, reply_markup=None)


async def unknown_button(update: Update, context: BotContext) -> None:
    """Any other tap: answered, so that the button does not spin."""
    if update.callback_query:
        await update.callback_query.answer(texts.UNKNOWN_BUTTON())


async def _change(
    services: Services, chat_id: int, current: ChatSettings, setting: Setting, given: str
) -> str:
    """Validate and store one value; the answer says what happened."""
    allowed = current.choices(setting.field)
    value = setting.normalize(given)
    if setting.field == "model" and value is not None:
        value = _match_model(value, allowed)
    if value is None:
        return texts.setting_unknown(setting.label(), given, allowed)
    if value not in allowed:
        return texts.setting_unsupported(setting.label(), value, current.model, allowed)
    await services.storage.update_preferences(chat_id, **{setting.field: value})
    lines = [*current.notes, texts.setting_changed(setting.label(), value)]
    if setting.field == "model":
        lines += await _drop_what_the_model_cannot_do(services, chat_id, current)
    return "\n".join(lines)


async def _drop_what_the_model_cannot_do(
    services: Services, chat_id: int, before: ChatSettings
) -> list[str]:
    """After a model change, a ratio the new model lacks goes back to a default it has, and a
    size to the nearest it has (resolving the settings does that, with its note)."""
    after = await services.chat_settings(chat_id)
    notes = list(after.notes)
    ratio = SETTINGS["ratio"]
    if before.aspect_ratio not in after.choices(ratio.field):
        await services.storage.update_preferences(chat_id, aspect_ratio=None)
        notes.append(
            texts.setting_fell_back(
                ratio.label(), before.aspect_ratio, after.aspect_ratio, after.model
            )
        )
    if before.image_size not in after.choices("image_size") and not after.notes:
        # The size was the operator's default, which the new model lacks.
        notes.append(
            texts.setting_fell_back(texts.SIZE(), before.image_size, after.image_size, after.model)
        )
    return notes


def _match_model(given: str, allowed: tuple[str, ...]) -> str | None:
    """`given` as an allowed model: exactly, ignoring case, or without the `google/` prefix."""
    wanted = given.lower()
    for model in allowed:
        if wanted in (model.lower(), model.lower().rsplit("/", 1)[-1]):
            return model
    return None


def _keyboard(setting: Setting, current: ChatSettings) -> InlineKeyboardMarkup:
    value = getattr(current, setting.field)
    buttons = [
        InlineKeyboardButton(
            f"✓ {choice}" if choice == value else choice,
            callback_data=SettingButton(setting.command, choice).pack(),
        )
        for choice in current.choices(setting.field)
    ]
    rows = [buttons[i : i + setting.columns] for i in range(0, len(buttons), setting.columns)]
    return InlineKeyboardMarkup(rows)


async def may_change(
    services: Services, bot: Bot, chat: Chat, user: User | None, message: Message | None
) -> bool:
    """Anyone in a private chat; in a group, per GROUP_SETTINGS, its administrators or everyone."""
    if chat.type == ChatType.PRIVATE or services.settings.bot.group_settings == "everyone":
        return True
    if message is not None and message.sender_chat and message.sender_chat.id == chat.id:
        return True  # an anonymous administrator writes as the group itself
    if user is None:
        return False
    member = await bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
