"""Saved references: /ref (add, group, del, avatar), /refs with delete buttons, and `#NAME` in a
prompt or caption attaching the picture saved under that name (`#me`: the sender's profile
photo; `#username`: someone's who shared theirs with /ref avatar on)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot import texts
from bot.decoding import InputRejected
from bot.store.storage import PictureRef
from bot.telegram.callbacks import CallbackData
from bot.telegram.files import ImageFile
from bot.telegram.handlers.access import requester_id
from bot.telegram.handlers.reading import image_files
from bot.telegram.handlers.settings import may_change
from bot.telegram.services import BotContext, Services

log = logging.getLogger(__name__)

# A user's (or a group's) saved pictures at most.
MOST_REFS = 50
# The name that means the sender's own profile photo.
ME = "me"
# `#name`: a letter, then letters, digits or _, up to 32 in all; not inside a word.
_MARK = re.compile(r"(?<!\w)#([^\W\d_]\w{0,31})(?!\w)")
_NAME = re.compile(r"[^\W\d_]\w{0,31}")
# Telegram sends at most ten pictures in one album.
_ALBUM = 10


class RefAction(StrEnum):
    DELETE = "del"


@dataclass(frozen=True, slots=True)
class RefButton(CallbackData, prefix="ref"):
    """A button under /refs: what it does to which saved picture."""

    action: RefAction
    ref_id: int


class UnknownReferences(Exception):
    """`#names` in a prompt that name no saved picture (or profile photo to be had)."""

    def __init__(self, names: list[str], known: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names
        self.known = known


@dataclass(frozen=True, slots=True)
class Attached:
    """What a prompt's `#names` attach, and the prompt as it goes upstream (names unmarked)."""

    files: list[ImageFile]
    prompt: str


def marked_names(prompt: str) -> list[str]:
    """The `#names` in `prompt`, lower-cased, each once, in order."""
    return list(dict.fromkeys(m.group(1).lower() for m in _MARK.finditer(prompt)))


async def attached(message: Message, prompt: str, context: BotContext) -> Attached:
    """The pictures `prompt`'s `#names` attach: the sender's saved ones first, then the chat's,
    `#me` the sender's profile photo, `#username` the profile photo of a user who shared it.
    UnknownReferences (nothing is sent upstream) for names that attach nothing."""
    names = marked_names(prompt)
    if not names:
        return Attached([], prompt)
    services = context.services
    saved = {r.name: r for r in reversed(await services.storage.refs(*_owners(message)))}
    files: list[ImageFile] = []
    unknown: list[str] = []
    for name in names:
        if name in saved:
            files.append(ImageFile(saved[name].file_id, None))
            continue
        user_id = _own_user(message) if name == ME else await services.storage.shared_avatar(name)
        avatar = await _profile_photo(context.bot, user_id) if user_id is not None else None
        if avatar is None:
            unknown.append(name)
        else:
            files.append(avatar)
    if unknown:
        raise UnknownReferences([f"#{n}" for n in unknown], sorted(saved))
    return Attached(files, _MARK.sub(lambda m: m.group(1), prompt))


async def ref_command(update: Update, context: BotContext) -> None:
    """`/ref add NAME` (a reply to a photo, or a photo's caption), `/ref group NAME` (a group's,
    by its admins), `/ref del NAME`, `/ref avatar on|off`; anything else gets the usage."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    words = (message.text or message.caption or "").split()[1:]
    action, rest = (words[0].lower(), words[1:]) if words else ("", [])
    services = context.services
    if action == "avatar" and rest and rest[0].lower() in ("on", "off"):
        await _avatar(message, services, rest[0].lower() == "on")
    elif action in ("add", "group", "del") and len(rest) == 1:
        name = rest[0].lstrip("#").lower()
        if not _NAME.fullmatch(name) or name == ME:
            await message.reply_text(texts.ref_bad_name(rest[0]))
        elif action == "del":
            await _delete_named(message, services, name)
        else:
            await _save(message, context, name, group=action == "group")
    else:
        await message.reply_text(texts.REF_USAGE())


async def refs_command(update: Update, context: BotContext) -> None:
    """The sender's saved pictures (and the group's) as thumbnails, then a delete button each."""
    message = update.effective_message
    if message is None:
        return
    refs = await context.services.storage.refs(*_owners(message))
    if not refs:
        await message.reply_text(texts.REFS_NONE())
        return
    for kind in (True, False):  # an album is all photos or all files
        same = [r for r in refs if r.photo is kind]
        for start in range(0, len(same), _ALBUM):
            await _thumbnails(context.bot, message, same[start : start + _ALBUM])
    buttons = [
        [
            InlineKeyboardButton(
                f"🗑 #{r.name}", callback_data=RefButton(RefAction.DELETE, r.id).pack()
            )
        ]
        for r in refs
    ]
    await message.reply_text(
        texts.refs_list([f"#{r.name}" for r in refs]), reply_markup=InlineKeyboardMarkup(buttons)
    )


async def ref_button(update: Update, context: BotContext) -> None:
    """A delete button under /refs, for the picture's owner or, for a group's,
    for whoever may change its settings."""
    query = update.callback_query
    if query is None:
        return
    button = RefButton.unpack(query.data)
    services = context.services
    ref = await services.storage.ref(button.ref_id) if button is not None else None
    chat = query.message.chat if query.message else None
    if ref is None or chat is None:
        await query.answer(texts.REF_GONE())
        return
    group = ref.owner_id < 0
    allowed = (
        ref.owner_id == chat.id
        and await may_change(services, context.bot, chat, query.from_user, None)
        if group
        else ref.owner_id == query.from_user.id
    )
    if not allowed:
        await query.answer(texts.REF_NOT_YOURS(), show_alert=True)
        return
    await services.storage.delete_ref(ref.id)
    await query.answer(texts.ref_deleted(ref.name))


def _owners(message: Message) -> tuple[int, ...]:
    """Whose saved pictures a message may use: its sender's, then (in a group) the group's."""
    who = requester_id(message)
    own = () if who is None else (who,)
    if message.chat.type == ChatType.PRIVATE or who == message.chat_id:
        return own
    return (*own, message.chat_id)


def _own_user(message: Message) -> int | None:
    """The sender, if a person wrote (not a group or a channel on whose behalf they did)."""
    if message.sender_chat is not None or message.from_user is None:
        return None
    return message.from_user.id


async def _profile_photo(bot: Bot, user_id: int) -> ImageFile | None:
    """The user's current profile photo, largest size; None if they have none (to be seen)."""
    try:
        photos = await bot.get_user_profile_photos(user_id, limit=1)
    except TelegramError as exc:
        log.info("no profile photo to be had for a user: %s", exc)
        return None
    if not photos.photos or not photos.photos[0]:
        return None
    largest = photos.photos[0][-1]
    return ImageFile(largest.file_id, largest.file_size)


async def _save(message: Message, context: BotContext, name: str, *, group: bool) -> None:
    services = context.services
    source = message if message.photo or message.document else message.reply_to_message
    try:
        images = image_files(source) if source else []
    except InputRejected as exc:
        await message.reply_text(str(exc))
        return
    if not images or source is None:
        await message.reply_text(texts.REF_NEEDS_PHOTO())
        return
    [image] = images
    if group:
        if message.chat.type == ChatType.PRIVATE:
            await message.reply_text(texts.REF_GROUP_ONLY())
            return
        chat = message.chat
        if not await may_change(services, context.bot, chat, message.from_user, message):
            await message.reply_text(texts.SETTINGS_ADMINS_ONLY())
            return
        owner: int | None = chat.id
    else:
        owner = requester_id(message)
    if owner is None:
        await message.reply_text(texts.REF_USAGE())
        return
    ref = PictureRef(0, owner, name, image.file_id, photo=bool(source.photo))
    if not await services.storage.save_ref(ref, MOST_REFS):
        await message.reply_text(texts.refs_full(MOST_REFS))
        return
    await message.reply_text(texts.ref_saved(name))


async def _delete_named(message: Message, services: Services, name: str) -> None:
    """`/ref del NAME`: the sender's own picture of that name."""
    who = requester_id(message)
    mine = [r for r in await services.storage.refs(who) if r.name == name] if who else []
    if not mine:
        await message.reply_text(texts.ref_not_found(name))
        return
    await services.storage.delete_ref(mine[0].id)
    await message.reply_text(texts.ref_deleted(name))


async def _avatar(message: Message, services: Services, shared: bool) -> None:
    user = message.from_user if _own_user(message) is not None else None
    if user is None:  # a group or channel writing: it has no profile photo of a person's
        await message.reply_text(texts.REF_USAGE())
        return
    if shared and not user.username:
        await message.reply_text(texts.AVATAR_NEEDS_USERNAME())
        return
    await services.storage.share_avatar(user.id, user.username, shared)
    if shared and user.username:
        await message.reply_text(texts.avatar_shared(user.username.lower()))
    else:
        await message.reply_text(texts.AVATAR_PRIVATE())


async def _thumbnails(bot: Bot, message: Message, refs: list[PictureRef]) -> None:
    """Up to ten saved pictures, each captioned with its `#name`, as one album (one picture
    alone: as itself)."""
    try:
        if len(refs) == 1:
            [ref] = refs
            send = message.reply_photo if ref.photo else message.reply_document
            await send(ref.file_id, caption=f"#{ref.name}")
            return
        media: list[InputMediaPhoto] | list[InputMediaDocument] = (
            [InputMediaPhoto(r.file_id, caption=f"#{r.name}") for r in refs]
            if refs[0].photo
            else [InputMediaDocument(r.file_id, caption=f"#{r.name}") for r in refs]
        )
        await bot.send_media_group(message.chat_id, media)
    except TelegramError as exc:  # a file Telegram no longer has: the list below still comes
        log.warning("could not show saved pictures: %s", exc)
