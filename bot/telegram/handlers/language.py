"""The user's language: picked for each update before any other handler, and /language."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User

from bot import i18n, texts
from bot.telegram.callbacks import CallbackData
from bot.telegram.languages import UserLanguages
from bot.telegram.services import BotContext

log = logging.getLogger(__name__)

# Typed or tapped: back to the Telegram app's language.
AUTOMATIC = "auto"


@dataclass(frozen=True, slots=True)
class LanguageButton(CallbackData, prefix="lang"):
    """A /language button: a shipped catalog's name, or AUTOMATIC."""

    choice: str

    def __post_init__(self) -> None:
        if self.choice != AUTOMATIC and self.choice not in i18n.LANGUAGES:
            raise ValueError(f"no language {self.choice!r}")


async def speak_their_language(update: Update, context: BotContext) -> None:
    """Every update is answered in its sender's language, the door's refusal included."""
    user = update.effective_user
    try:
        language = await context.services.languages.of(user)
    except Exception:
        # A database that cannot be read must not keep the update from its handlers.
        log.warning("could not read a user's language; using their app's", exc_info=True)
        language = i18n.pick(user.language_code if user else None)
    i18n.use(language)


async def language_command(update: Update, context: BotContext) -> None:
    """`/language` shows the choices as buttons; `/language es` (or `auto`) chooses."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    languages = context.services.languages
    if not context.args:
        chosen = await languages.chosen(user.id)
        await message.reply_text(
            texts.language_current(i18n.LANGUAGES[i18n.current().code], chosen is None),
            reply_markup=_keyboard(chosen),
        )
        return
    given = " ".join(context.args)
    choice = _read(given)
    if choice is None:
        codes = (*(_typed(code) for code in i18n.LANGUAGES), AUTOMATIC)
        await message.reply_text(texts.language_unknown(given, codes))
        return
    await message.reply_text(await _switch(languages, user, choice))


async def language_button(update: Update, context: BotContext) -> None:
    """A tap on a /language button. Anyone can send any callback data: what names no shipped
    language changes nothing, and is answered."""
    query = update.callback_query
    if query is None:
        return
    button = LanguageButton.unpack(query.data)
    if button is None:
        await query.answer(texts.LANGUAGE_BUTTON_UNKNOWN(), show_alert=True)
        return
    reply = await _switch(context.services.languages, query.from_user, button.choice)
    await query.answer()
    if query.message is not None:
        await query.edit_message_text(reply, reply_markup=None)


def _typed(code: str) -> str:
    """How a catalog's name is typed: `pt_BR` as `pt-br`."""
    return code.replace("_", "-").lower()


def _read(given: str) -> str | None:
    """AUTOMATIC, or the catalog `given` names (a code such as `pt-br`, or the language's own
    name, in any case); None if it names none."""
    wanted = given.strip().lower()
    if wanted == AUTOMATIC:
        return AUTOMATIC
    for code, name in i18n.LANGUAGES.items():
        if wanted == name.lower():
            return code
    return i18n.catalog_name(wanted)


async def _switch(languages: UserLanguages, user: User, choice: str) -> str:
    """Store the choice; the answer is already in the language chosen."""
    await languages.choose(user.id, None if choice == AUTOMATIC else choice)
    i18n.use(await languages.of(user))
    return texts.language_changed(i18n.LANGUAGES[i18n.current().code], choice == AUTOMATIC)


def _keyboard(chosen: str | None) -> InlineKeyboardMarkup:
    def button(label: str, value: str, ticked: bool) -> InlineKeyboardButton:
        text = f"✓ {label}" if ticked else label
        return InlineKeyboardButton(text, callback_data=LanguageButton(value).pack())

    buttons = [button(name, code, code == chosen) for code, name in i18n.LANGUAGES.items()]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([button(texts.LANGUAGE_AUTOMATIC(), AUTOMATIC, chosen is None)])
    return InlineKeyboardMarkup(rows)
