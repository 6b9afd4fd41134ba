"""Queue notes: the "Queued: 12 ahead of you" reply with a Cancel button, sent when a job has to
wait, edited when its place changed a lot, deleted when its answer is out. One task does all of
it through the cosmetic budget, most useful first: new notes, then deletions, then edits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import TelegramError

from bot import i18n, texts
from bot.telegram_budget import CosmeticBudget

log = logging.getLogger(__name__)

CANCEL_PREFIX = "cancel"
# A note is edited at most this often, and only when its place at least halved (or the job is
# next): the crowd's notes would otherwise take Telegram's budget from the pictures.
EDIT_INTERVAL = 15.0
# How often places are looked at again.
PASS_INTERVAL = 5.0


def cancel_button(job_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts.CANCEL_BUTTON(), callback_data=f"{CANCEL_PREFIX}|{job_id}")]]
    )


@dataclass
class _Note:
    chat_id: int
    reply_to: int | None
    language: str  # the requester's: one task writes everyone's notes
    message_id: int | None = None  # None until sent
    shown: int = 0  # the place it shows
    edited_at: float = 0.0


class QueueNotes:
    def __init__(
        self,
        bot: Bot,
        budget: CosmeticBudget,
        places: Callable[[], dict[int, int]],
        remember: Callable[[int, int], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
        pass_interval: float = PASS_INTERVAL,
    ) -> None:
        self._bot = bot
        self._budget = budget
        self._places = places  # every queued job's place, in one pass
        self._remember = remember  # stores a sent note's id with its job
        self._clock = clock  # for EDIT_INTERVAL
        self._pass_interval = pass_interval
        self._notes: dict[int, _Note] = {}
        self._unsent: OrderedDict[int, None] = OrderedDict()  # jobs whose note is to be sent
        self._to_delete: list[tuple[int, int]] = []
        self._to_edit: OrderedDict[int, int] = OrderedDict()  # job -> place to show
        self._work = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---- what the pipeline tells it ----------------------------------------------------------
    def waiting(
        self, job_id: int, chat_id: int, reply_to: int | None, ahead: int, language: str
    ) -> None:
        """A job that has to wait: its note is sent as soon as the budget allows."""
        self._notes[job_id] = _Note(chat_id, reply_to, language, shown=ahead)
        self._unsent[job_id] = None
        self._work.set()

    def adopt(self, job_id: int, chat_id: int, message_id: int, language: str) -> None:
        """A note sent by an earlier run, for a job queued again after a restart."""
        self._notes[job_id] = _Note(chat_id, None, language, message_id, shown=-1)

    def started(self, job_id: int) -> None:
        """The job has its turn: a note not yet sent is no longer needed."""
        if job_id in self._unsent:
            del self._unsent[job_id], self._notes[job_id]  # never sent: nothing to delete
        self._to_edit.pop(job_id, None)

    def shown(self, job_id: int) -> bool:
        """Whether the job has a note in its chat (sent, or on its way)."""
        return job_id in self._notes

    def finished(self, job_id: int) -> None:
        """The job's answer is out (or it was cancelled): its note goes."""
        self.started(job_id)
        note = self._notes.pop(job_id, None)
        if note is not None and note.message_id is not None:
            self.forget(note.chat_id, note.message_id)

    def forget(self, chat_id: int, message_id: int) -> None:
        """Delete a note, whoever sent it."""
        self._to_delete.append((chat_id, message_id))
        self._work.set()

    # ---- the one task --------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_up())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _keep_up(self) -> None:
        loop = asyncio.get_running_loop()
        next_pass = loop.time() + self._pass_interval
        while True:
            if loop.time() >= next_pass:
                self._look_at_places()
                next_pass = loop.time() + self._pass_interval
            if not (self._unsent or self._to_delete or self._to_edit):
                self._work.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._work.wait(), max(0.0, next_pass - loop.time()))
                continue
            await self._budget.spend()
            try:
                await self._do_next()
            except TelegramError as exc:
                log.info("a queue note could not be sent, edited or deleted: %s", exc)

    async def _do_next(self) -> None:
        if self._unsent:
            job_id, _ = self._unsent.popitem(last=False)
            await self._send(job_id, self._notes[job_id])
        elif self._to_delete:
            chat_id, message_id = self._to_delete.pop(0)
            await self._bot.delete_message(chat_id, message_id)
        elif self._to_edit:
            job_id, ahead = self._to_edit.popitem(last=False)
            note = self._notes.get(job_id)
            if note is not None and note.message_id is not None:
                note.shown, note.edited_at = ahead, self._clock()
                with i18n.speaking(note.language):
                    await self._bot.edit_message_text(
                        texts.queued(ahead),
                        chat_id=note.chat_id,
                        message_id=note.message_id,
                        reply_markup=cancel_button(job_id),
                    )

    async def _send(self, job_id: int, note: _Note) -> None:
        reply = (
            ReplyParameters(note.reply_to, allow_sending_without_reply=True)
            if note.reply_to
            else None
        )
        with i18n.speaking(note.language):
            sent = await self._bot.send_message(
                note.chat_id,
                texts.queued(note.shown),
                reply_parameters=reply,
                reply_markup=cancel_button(job_id),
            )
        note.message_id, note.edited_at = sent.message_id, self._clock()
        if self._notes.get(job_id) is not note:
            self.forget(note.chat_id, sent.message_id)  # the job ended while this was sent
            return
        await self._remember(job_id, sent.message_id)

    def _look_at_places(self) -> None:
        """Queue the edits worth making: places that at least halved, not too soon."""
        places = self._places()
        now = self._clock()
        for job_id, note in self._notes.items():
            ahead = places.get(job_id)
            if ahead is None or note.message_id is None or now - note.edited_at < EDIT_INTERVAL:
                continue
            if ahead != note.shown and (ahead <= note.shown // 2 or note.shown < 0):
                self._to_edit[job_id] = ahead
