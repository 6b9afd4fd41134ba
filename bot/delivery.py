"""Getting a result back to the user: the "uploading photo…" indicator, the queue note, and
photo-or-document."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import Bot, Message
from telegram.constants import ChatAction
from telegram.error import NetworkError, TelegramError, TimedOut

from bot import texts
from bot.domain import Picture

log = logging.getLogger(__name__)

# Telegram's sendPhoto limits; past them it answers 400 PHOTO_INVALID_DIMENSIONS or 413.
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES_SUM = 10_000
PHOTO_MAX_SIDE_RATIO = 20
# A chat action shows for at most 5 s, so it is renewed a little sooner.
CHAT_ACTION_INTERVAL = 4.0


def fits_as_photo(picture: Picture) -> bool:
    long_side, short_side = max(picture.width, picture.height), min(picture.width, picture.height)
    return (
        len(picture.data) <= PHOTO_MAX_BYTES
        and picture.width + picture.height <= PHOTO_MAX_SIDES_SUM
        and long_side <= PHOTO_MAX_SIDE_RATIO * short_side
    )


@contextlib.asynccontextmanager
async def uploading_photo(bot: Bot, chat_id: int) -> AsyncIterator[None]:
    """Show "uploading photo…" in the chat for as long as the block runs."""

    async def keep_showing() -> None:
        while True:
            try:
                await bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
            except TelegramError as exc:
                # A missed indicator is cosmetic; the answer itself must not wait for it.
                log.debug("chat action failed: %s", exc)
            await asyncio.sleep(CHAT_ACTION_INTERVAL)

    task = asyncio.create_task(keep_showing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send_picture(
    reply_to: Message, picture: Picture, caption: str | None = None, *, as_file: bool = False
) -> Message:
    """Reply with `picture` as a photo, or as a document if asked or if Telegram would refuse it."""
    if not as_file and fits_as_photo(picture):
        try:
            return await reply_to.reply_photo(photo=picture.data, caption=caption)
        except TimedOut:
            # The photo may have arrived after all; a document too would send the image twice.
            raise
        # BadRequest (PHOTO_INVALID_DIMENSIONS, ...) is a NetworkError too, as is a 413.
        except NetworkError as exc:
            log.warning(
                "sending a %dx%d photo failed (%s); sending it as a document",
                picture.width,
                picture.height,
                exc,
            )
    return await reply_to.reply_document(
        document=picture.data, filename=f"image.{picture.extension}", caption=caption
    )


class QueueNote:
    """The "queued, N ahead" reply shown while a request waits for its turn, edited as it moves
    up and deleted once the answer is there."""

    def __init__(self, reply_to: Message) -> None:
        self._reply_to = reply_to
        self._note: Message | None = None

    async def show(self, ahead: int) -> None:
        text = texts.queued(ahead)
        if self._note is None:
            self._note = await self._reply_to.reply_text(text)
        else:
            await self._note.edit_text(text)

    async def remove(self) -> None:
        if self._note is not None:
            try:
                await self._note.delete()
            except TelegramError as exc:
                log.info("could not delete the queue note: %s", exc)
            self._note = None
