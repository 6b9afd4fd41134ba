"""Presets from Telegram: /presets (buttons: the one tapped wraps the user's next prompt or
photo), `/p NAME text` (also as a photo's caption), and /preset add|del for the user's own or,
by a group's admins, the group's."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType

from bot import presets, texts
from bot.presets import (
    MAX_OWN_PRESETS,
    NAME_MAX_CHARS,
    PLACEHOLDER,
    TEMPLATE_MAX_CHARS,
    Preset,
    PresetSource,
)
from bot.store.storage import ChosenPreset
from bot.telegram.callbacks import CallbackData
from bot.telegram.handlers.access import requester_id
from bot.telegram.handlers.settings import may_change
from bot.telegram.services import BotContext, Services

_COLUMNS = 3
# `/p NAME text`, as prompt_of leaves it (the bot's @mention taken out).
_TYPED = re.compile(r"/p(?:\s+(\S+))?(?:\s+(.*))?", re.IGNORECASE | re.DOTALL)
_BUILTIN_NAMES = frozenset(p.name for p in presets.BUILTIN)


@dataclass(frozen=True, slots=True)
class PresetButton(CallbackData, prefix="pst"):
    """A /presets button: which preset, kept where (a built-in one by its English name)."""

    source: PresetSource
    name: str

    def __post_init__(self) -> None:
        if not presets.valid_name(self.name):
            raise ValueError(f"no preset could be called {self.name!r}")
        if self.source is PresetSource.BUILTIN and self.name not in _BUILTIN_NAMES:
            raise ValueError(f"no built-in preset {self.name!r}")


async def presets_command(update: Update, context: BotContext) -> None:
    """The presets as buttons: the built-in ones, the user's own and the group's."""
    message = update.effective_message
    if message is None:
        return
    services, user_id = context.services, requester_id(message)
    rows = _rows(PresetSource.BUILTIN, [(p.name, p.shown) for p in presets.BUILTIN])
    for source, owner in ((PresetSource.USER, user_id), (PresetSource.CHAT, _group(message))):
        if owner is not None:
            names = list(await services.storage.presets(owner))
            rows += _rows(source, [(name, name) for name in names])
    await message.reply_text(texts.PRESETS_INTRO(), reply_markup=InlineKeyboardMarkup(rows))


async def preset_button(update: Update, context: BotContext) -> None:
    """A tap on a /presets button: that preset waits for the tapper's next prompt here."""
    query = update.callback_query
    if query is None:
        return
    button = PresetButton.unpack(query.data)
    chat = query.message.chat if query.message else None
    preset = None
    if button is not None and chat is not None:
        owner = {PresetSource.USER: query.from_user.id, PresetSource.CHAT: chat.id}
        preset = await _stored(
            context.services, button.source, button.name, owner.get(button.source)
        )
    if button is None or chat is None or preset is None:
        await query.answer(texts.UNKNOWN_BUTTON())
        return
    chosen = ChosenPreset(button.source.value, button.name)
    await context.services.storage.choose_preset(chat.id, query.from_user.id, chosen)
    await query.answer(texts.preset_chosen(preset.shown))


async def preset_command(update: Update, context: BotContext) -> None:
    """`/preset add NAME template with {text}` and `/preset del NAME`: the user's own in a
    private chat; in a group, the group's, for those who may change its settings."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or message.text is None:
        return
    services = context.services
    words = message.text.split(maxsplit=3)[1:]
    action = words[0].lower() if words else ""
    owner = _group(message) or requester_id(message)
    if action not in ("add", "del") or len(words) < 2 or owner is None:
        await message.reply_text(texts.PRESET_USAGE())
        return
    if not await may_change(services, context.bot, chat, message.from_user, message):
        await message.reply_text(texts.PRESETS_ADMINS_ONLY())
        return
    name = presets.key(words[1])
    if action == "del":
        deleted = await services.storage.delete_preset(owner, name)
        await message.reply_text(
            texts.preset_deleted(name) if deleted else texts.preset_not_found(name)
        )
        return
    template = words[2] if len(words) > 2 else ""
    await message.reply_text(await _add(services, owner, name, template))


async def _add(services: Services, owner: int, name: str, template: str) -> str:
    if not presets.valid_name(name):
        return texts.preset_bad_name(NAME_MAX_CHARS)
    if PLACEHOLDER not in template or len(template) > TEMPLATE_MAX_CHARS:
        return texts.preset_bad_template(TEMPLATE_MAX_CHARS)
    existing = await services.storage.presets(owner)
    if name not in existing and len(existing) >= MAX_OWN_PRESETS:
        return texts.too_many_presets(MAX_OWN_PRESETS)
    await services.storage.set_preset(owner, name, template)
    return texts.preset_saved(name)


async def prompt_with_preset(
    message: Message,
    context: BotContext,
    prompt: str,
    with_images: bool,
    *,
    chosen_waiting: bool,
) -> str | None:
    """The prompt to send: wrapped in the preset typed (`/p NAME text`) or chosen from /presets
    (looked for only if `chosen_waiting`: someone in the chat chose one), else as it is; None
    when the user was answered instead (an unknown name, nothing to wrap)."""
    services, user_id = context.services, requester_id(message)
    typed = _TYPED.fullmatch(prompt)
    preset: Preset | None
    if typed is not None:
        name, prompt = typed[1] or "", typed[2] or ""
        preset = await _named(services, message, name) if name else None
        if preset is None:
            await message.reply_text(texts.unknown_preset(name, await _names(services, message)))
            return None
    else:
        chosen = None
        if user_id is not None and chosen_waiting:
            chosen = await services.storage.take_chosen_preset(message.chat_id, user_id)
        if chosen is None:
            return prompt
        source = PresetSource(chosen.source)
        owners = {PresetSource.USER: user_id, PresetSource.CHAT: message.chat_id}
        preset = await _stored(services, source, chosen.name, owners.get(source))
        if preset is None:  # deleted since it was chosen
            return prompt
    if not prompt and not with_images:
        await message.reply_text(texts.preset_needs_text(preset.shown))
        return None
    return preset.wrap(prompt, with_images)


async def _named(services: Services, message: Message, name: str) -> Preset | None:
    """The preset a typed name means: the user's own, the group's, then a built-in one."""
    wanted = presets.key(name)
    for owner in (requester_id(message), _group(message)):
        if owner is not None and (template := (await services.storage.presets(owner)).get(wanted)):
            return presets.own(wanted, template)
    return presets.builtin(wanted)


async def _stored(
    services: Services, source: PresetSource, name: str, owner: int | None
) -> Preset | None:
    if source is PresetSource.BUILTIN:
        return presets.builtin(name)
    if owner is None:
        return None
    template = (await services.storage.presets(owner)).get(name)
    return presets.own(name, template) if template else None


async def _names(services: Services, message: Message) -> list[str]:
    names = [p.shown for p in presets.BUILTIN]
    for owner in (requester_id(message), _group(message)):
        if owner is not None:
            names += [n for n in await services.storage.presets(owner) if n not in names]
    return names


def _group(message: Message) -> int | None:
    """The group's id, whose presets its members share; None in a private chat."""
    return message.chat_id if message.chat.type != ChatType.PRIVATE else None


def _rows(source: PresetSource, names: list[tuple[str, str]]) -> list[list[InlineKeyboardButton]]:
    buttons = [
        InlineKeyboardButton(label, callback_data=PresetButton(source, name).pack())
        for name, label in names
    ]
    return [buttons[i : i + _COLUMNS] for i in range(0, len(buttons), _COLUMNS)]
