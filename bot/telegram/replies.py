"""The queue core's answers, in Telegram: a job's texts, results with their buttons, the text
model's prompts and "uploading photo…", as replies in its chat or into its inline message; and
its input files, fetched by `file_id`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from telegram import Bot
from telegram.error import TelegramError

from bot.domain import Picture
from bot.jobs.model import Job
from bot.jobs.ports import Delivered
from bot.telegram.budget import TelegramBudget
from bot.telegram.delivery import Answer, file_id_of
from bot.telegram.files import ImageFile, download
from bot.telegram.inline_answer import InlineAnswer
from bot.telegram.result_buttons import result_keyboard, words_keyboard

log = logging.getLogger(__name__)


class TelegramReplies:
    """Replies and InputFiles (bot/jobs/ports.py) over the bot."""

    def __init__(
        self, bot: Bot, budget: TelegramBudget, inline_storage_chat_id: int | None
    ) -> None:
        self._bot = bot
        self._budget = budget
        self._inline_storage_chat_id = inline_storage_chat_id

    def to(self, job: Job) -> TelegramJobAnswer:
        inline = job.options.inline_message_id
        if inline is None:
            answer = Answer(self._bot, job.who.chat_id, job.who.message_id)
        else:
            storage = self._inline_storage_chat_id
            upload_to = job.who.chat_id if storage is None else storage
            answer = InlineAnswer(self._bot, inline, upload_to, private=storage is None)
        return TelegramJobAnswer(job, answer, self._budget)

    async def fetch(self, file_id: str) -> Picture:
        return await download(self._bot, ImageFile(file_id, None))


class TelegramJobAnswer:
    """One job's answers (JobAnswer), with the buttons that go under them."""

    def __init__(self, job: Job, answer: Answer, budget: TelegramBudget) -> None:
        self._job = job
        self._answer = answer
        self._budget = budget

    async def text(self, text: str) -> None:
        try:
            await self._answer.text(text)
        except TelegramError as exc:
            log.warning("could not tell chat %s: %s", self._answer.chat_id, exc)

    def uploading(self) -> AbstractAsyncContextManager[None]:
        return self._answer.uploading_photo(self._budget)

    async def result(
        self, pictures: Sequence[Picture], caption: str, *, as_file: bool
    ) -> Delivered:
        job = self._job
        buttons = result_keyboard(job.id, job.order, new=job.options.conversation)
        sent = await self._answer.result(pictures, caption, as_file=as_file, buttons=buttons)
        # An inline result's upload may be in another chat: no reply there continues it.
        in_chat = job.options.inline_message_id is None
        return Delivered(file_id_of(sent), sent.message_id if in_chat else None, bool(sent.photo))

    async def words(self, text: str) -> None:
        await self._answer.text(text, buttons=words_keyboard(self._job.id, text))
