"""Getting answers back to a user from a worker, which has ids rather than a Message: texts and
pictures as replies to the user's message (photo, or document past Telegram's photo limits),
and the "uploading photo…" indicator when Telegram's budget has room."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatAction
from telegram.error import NetworkError, TelegramError, TimedOut

from bot.domain import Picture
from bot.telegram.budget import TelegramBudget

log = logging.getLogger(__name__)

# Telegram's sendPhoto limits; past them it answers 400 PHOTO_INVALID_DIMENSIONS or 413.
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES_SUM = 10_000
PHOTO_MAX_SIDE_RATIO = 20
# A chat action shows for at most 5 s, so it is renewed a little sooner.
CHAT_ACTION_INTERVAL = 4.0


def file_id_of(message: Message) -> str | None:
    """The `file_id` of the picture a message carries (the largest size of a photo)."""
    if message.photo:
        return message.photo[-1].file_id
    return message.document.file_id if message.document else None


def fits_as_photo(picture: Picture) -> bool:
    long_side, short_side = max(picture.width, picture.height), min(picture.width, picture.height)
    return (
        len(picture.data) <= PHOTO_MAX_BYTES
        and picture.width + picture.height <= PHOTO_MAX_SIDES_SUM
        and long_side <= PHOTO_MAX_SIDE_RATIO * short_side
    )


class Answer:
    """Where a job's answers go: its chat, as replies to the user's message (sent without the
    reply link if that message was deleted meanwhile)."""

    def __init__(self, bot: Bot, chat_id: int, message_id: int | None) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self._reply = (
            ReplyParameters(message_id, allow_sending_without_reply=True) if message_id else None
        )

    async def text(self, text: str, buttons: InlineKeyboardMarkup | None = None) -> None:
        await self.bot.send_message(
            self.chat_id, text, reply_parameters=self._reply, reply_markup=buttons
        )

    async def result(
        self,
        pictures: Sequence[Picture],
        caption: str,
        *,
        as_file: bool,
        buttons: InlineKeyboardMarkup | None,
    ) -> Message:
        """A job's pictures: one with its buttons, or several as one album (Telegram lets no
        album carry buttons); the first message sent."""
        if len(pictures) == 1:
            return await self.picture(pictures[0], caption, as_file=as_file, buttons=buttons)
        return await self.album(pictures, caption, as_file=as_file)

    async def picture(
        self,
        picture: Picture,
        caption: str | None = None,
        *,
        as_file: bool = False,
        buttons: InlineKeyboardMarkup | None = None,
    ) -> Message:
        """`picture` as a photo, or as a document if asked or if Telegram would refuse it."""
        if not as_file and fits_as_photo(picture):
            try:
                return await self.bot.send_photo(
                    self.chat_id,
                    picture.data,
                    caption=caption,
                    reply_parameters=self._reply,
                    reply_markup=buttons,
                )
            except TimedOut:
                # The photo may have arrived after all; a document too would send it twice.
                raise
            # BadRequest (PHOTO_INVALID_DIMENSIONS, ...) is a NetworkError too, as is a 413.
            except NetworkError as exc:
                log.warning(
                    "sending a %dx%d photo failed (%s); sending it as a document",
                    picture.width,
                    picture.height,
                    exc,
                )
        return await self.bot.send_document(
            self.chat_id,
            picture.data,
            filename=f"image.{picture.extension}",
            caption=caption,
            reply_parameters=self._reply,
            reply_markup=buttons,
        )

    async def album(self, pictures: Sequence[Picture], caption: str, *, as_file: bool) -> Message:
        """Pictures as one album with one caption: photos, or documents if asked or if Telegram
        would refuse any of them as a photo (an album cannot mix the two)."""
        media: list[InputMediaPhoto] | list[InputMediaDocument]
        captions = [caption, *(None for _ in pictures[1:])]
        if not as_file and all(fits_as_photo(p) for p in pictures):
            media = [
                InputMediaPhoto(p.data, caption=c) for p, c in zip(pictures, captions, strict=True)
            ]
        else:
            media = [
                InputMediaDocument(p.data, caption=c, filename=f"image-{i}.{p.extension}")
                for i, (p, c) in enumerate(zip(pictures, captions, strict=True), start=1)
            ]
        sent = await self.bot.send_media_group(self.chat_id, media, reply_parameters=self._reply)
        return sent[0]

    @contextlib.asynccontextmanager
    async def uploading_photo(self, budget: TelegramBudget) -> AsyncIterator[None]:
        """Show "uploading photo…" while the block runs, when no other call waits for Telegram:
        in a crowd, results and queue notes come first and the indicator is skipped."""

        async def keep_showing() -> None:
            while True:
                if budget.has_room():
                    try:
                        await self.bot.send_chat_action(self.chat_id, ChatAction.UPLOAD_PHOTO)
                    except TelegramError as exc:
                        log.debug("chat action failed: %s", exc)
                await asyncio.sleep(CHAT_ACTION_INTERVAL)

        task = asyncio.create_task(keep_showing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
