"""Answers for a job asked in inline mode: its texts edit the inline message, and its picture,
which an inline message cannot take as an upload, is uploaded to a chat first and then put into
the inline message by its `file_id`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from telegram import Bot, InlineKeyboardMarkup, InputMediaDocument, InputMediaPhoto, Message

from bot.domain import Picture
from bot.telegram.budget import TelegramBudget
from bot.telegram.delivery import Answer, file_id_of


class InlineAnswer(Answer):
    """Uploads go to `upload_chat_id`: the operator's storage chat, or the user's private chat,
    where the copy keeps the result's buttons (they work there, as under any result)."""

    def __init__(
        self, bot: Bot, inline_message_id: str, upload_chat_id: int, *, private: bool
    ) -> None:
        super().__init__(bot, upload_chat_id, None)
        self._inline_message_id = inline_message_id
        self._private = private

    async def text(self, text: str, buttons: InlineKeyboardMarkup | None = None) -> None:
        await self.bot.edit_message_text(
            text, inline_message_id=self._inline_message_id, reply_markup=buttons
        )

    # An inline job makes one picture (an inline message shows one): Answer.result sends it here.
    async def picture(
        self,
        picture: Picture,
        caption: str | None = None,
        *,
        as_file: bool = False,
        buttons: InlineKeyboardMarkup | None = None,
    ) -> Message:
        uploaded = await super().picture(
            picture, caption, as_file=as_file, buttons=buttons if self._private else None
        )
        file_id = file_id_of(uploaded)
        assert file_id is not None  # a photo or a document, as just sent
        media = (
            InputMediaPhoto(file_id, caption=caption)
            if uploaded.photo
            else InputMediaDocument(file_id, caption=caption)
        )
        await self.bot.edit_message_media(media, inline_message_id=self._inline_message_id)
        return uploaded

    @contextlib.asynccontextmanager
    async def uploading_photo(self, budget: TelegramBudget) -> AsyncIterator[None]:
        # An inline message has no chat to show "uploading photo…" in; its text says "Drawing".
        yield
