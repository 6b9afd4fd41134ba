"""Users' own sticker sets: a result made a static sticker and added to the tapping user's set,
`u<user id>[_<n>]_by_<bot username>`, created on first use and followed by the next when full."""

from __future__ import annotations

from telegram import Bot, InputSticker
from telegram.constants import StickerFormat
from telegram.error import BadRequest

from bot import texts
from bot.decoding import as_sticker
from bot.store.chats import Chats
from bot.store.storage import StickerSetState
from bot.telegram.files import ImageFile, download

# Telegram's limit for a regular sticker set.
SET_LIMIT = 120
EMOJI = "🎨"
# A set Telegram calls full may be followed by another that is full too (stickers added by
# another replica meanwhile): a few tries, then the tap fails.
_TRIES = 3


class StartFirst(Exception):
    """Telegram makes sticker sets only for users who have started the bot."""


class NoRoom(Exception):
    """Every set tried was full."""


def set_name(user_id: int, number: int, bot_username: str) -> str:
    """Letters, digits and single underscores, ending in `_by_<bot username>`."""
    numbered = "" if number == 1 else f"_{number}"
    return f"u{user_id}{numbered}_by_{bot_username}"


def link(name: str) -> str:
    return f"https://t.me/addstickers/{name}"


async def add_sticker(bot: Bot, storage: Chats, user_id: int, file_id: str) -> str:
    """Make the picture `file_id` a sticker in `user_id`'s set; the set's name. StartFirst if the
    user never started the bot; NoRoom, InputRejected or TelegramError if it failed."""
    picture = await download(bot, ImageFile(file_id, None))
    made = await as_sticker(picture)
    sticker = InputSticker(made.data, [EMOJI], StickerFormat.STATIC)
    state = await storage.sticker_set(user_id) or StickerSetState(1, 0)
    for _ in range(_TRIES):
        if state.stickers >= SET_LIMIT:
            state = StickerSetState(state.number + 1, 0)
        name = set_name(user_id, state.number, bot.username)
        try:
            await _put(bot, user_id, name, state, sticker)
        except BadRequest as exc:
            if _says(exc, "PEER_ID_INVALID"):
                raise StartFirst(exc.message) from exc
            if not _says(exc, "STICKERS_TOO_MUCH"):
                raise
            state = StickerSetState(state.number, SET_LIMIT)
            continue
        await storage.set_sticker_set(user_id, StickerSetState(state.number, state.stickers + 1))
        return name
    raise NoRoom(f"{_TRIES} full sticker sets in a row for user {user_id}")


async def _put(
    bot: Bot, user_id: int, name: str, state: StickerSetState, sticker: InputSticker
) -> None:
    if state.stickers:
        await bot.add_sticker_to_set(user_id, name, sticker)
        return
    title = texts.sticker_set_title(bot.username, state.number)
    try:
        await bot.create_new_sticker_set(user_id, name, title, [sticker])
    except BadRequest as exc:
        # Made by a tap in another replica meanwhile (or before this database knew of it).
        if not _says(exc, "name is already occupied"):
            raise
        await bot.add_sticker_to_set(user_id, name, sticker)


def _says(error: BadRequest, description: str) -> bool:
    # PTB capitalises Telegram's description ("Bad Request: STICKERS_TOO_MUCH" reads
    # "Stickers_too_much").
    return description.lower() in error.message.lower()
