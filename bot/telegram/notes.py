"""Queue notes: the "Queued: 12 ahead of you" reply with a Cancel button, sent when a job has to
wait, edited when its place changed a lot, turned into "Drawing… 25 s" while the job runs, and
deleted when its answer is out (by whichever replica answers it). One task does all of it, most
useful first: deletions, then new notes, then edits (paid for by jobs that needed no note); the
bot's rate limiter puts its calls after every reply and picture, deletions before notes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot import i18n, texts
from bot.jobs.model import Job
from bot.telegram.budget import NotWanted, Priority, Turn
from bot.telegram.callbacks import CallbackData

log = logging.getLogger(__name__)

# A note is edited at most this often, and only when its place at least halved (or the job is
# next): the crowd's notes would otherwise take Telegram's budget from the pictures.
EDIT_INTERVAL = 15.0
# A running job's note shows how long it has been drawing: first this long after its start (a
# quick picture needs none), then this often.
PROGRESS_FIRST = 5.0
PROGRESS_EVERY = 15.0
# How often places are looked at again.
PASS_INTERVAL = 5.0
# A job that starts within this long needs no note: a free slot takes it at once.
NOTE_DELAY = 1.0
# Places are counted this far down the queue; a note further back says "at least" this many.
PLACES_COUNTED = 10_000
# New notes and edits under way at once: one at a time, Telegram's round trip would hold them
# to a few a second; all at once, thousands would wait in the rate limiter.
CALLS_AT_ONCE = 4
# Edits of a note: after every other call, as new notes are.
_EDIT = Turn(Priority.NOTE)


@dataclass(frozen=True, slots=True)
class CancelButton(CallbackData, prefix="cancel"):
    """The Cancel button under a queue note: which job it stops."""

    job_id: int


def cancel_button(job_id: int) -> InlineKeyboardMarkup:
    data = CancelButton(job_id).pack()
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.CANCEL_BUTTON(), callback_data=data)]])


@dataclass
class _Drawing:
    """A running job's note, showing how long it has been drawing."""

    chat_id: int
    message_id: int
    language: str
    started_at: float
    due_at: float  # when it is next to be edited


@dataclass
class _Note:
    chat_id: int
    reply_to: int | None
    language: str  # the requester's: one task writes everyone's notes
    queued_at: float
    message_id: int | None = None  # None until sent
    shown: int = 0  # the place it shows
    edited_at: float = 0.0


class QueueNotes:
    def __init__(
        self,
        bot: ExtBot[Turn],
        queue: Callable[[int], Awaitable[list[int]]],
        remember: Callable[[int, int], Awaitable[bool]],
        clock: Callable[[], float] = time.monotonic,
        pass_interval: float = PASS_INTERVAL,
        note_delay: float = NOTE_DELAY,
    ) -> None:
        self._bot = bot
        self._queue = queue  # the waiting jobs in the order they will be served
        self._remember = remember  # stores a sent note's id with its job, while it waits
        self._clock = clock  # for EDIT_INTERVAL and NOTE_DELAY
        self._pass_interval = pass_interval
        self._note_delay = note_delay
        self._places: dict[int, int] = {}
        self._places_at = -1e9
        self._notes: dict[int, _Note] = {}
        self._unsent: OrderedDict[int, None] = OrderedDict()  # jobs whose note is to be sent
        self._to_delete: list[tuple[int, int]] = []
        self._to_edit: OrderedDict[int, int] = OrderedDict()  # job -> place to show
        self._drawing: dict[int, _Drawing] = {}  # running jobs with a note
        self._work = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._under_way = 0  # notes and edits in self._calls
        # Edits cost calls beyond the three a request may take (note, picture, deletion): they
        # are made with what jobs answered here without a note saved, one each.
        self._spare = 0

    # ---- what the job queue tells it -------------------------------------------------------
    @property
    def waiting_jobs(self) -> int:
        """Jobs waiting in all replicas, as last counted."""
        return len(self._places)

    def waiting(self, job_id: int, chat_id: int, reply_to: int | None, language: str) -> None:
        """A job was queued here: unless it starts at once, its note is sent as soon as the
        budget allows."""
        self._notes[job_id] = _Note(chat_id, reply_to, language, queued_at=self._clock())
        self._unsent[job_id] = None
        self._work.set()

    def started(self, job: Job) -> None:
        """The job has its turn: a note not yet sent is no longer needed; one that was (by any
        replica: the job's row has it) shows the drawing's progress from now on."""
        self._forget_waiting(job.id)
        on_its_way = self._notes.get(job.id)
        if on_its_way is not None and on_its_way.message_id is None:
            del self._notes[job.id]  # not sent unless it already is: then deleted at once
        if job.note_id is not None:
            now = self._clock()
            self._drawing[job.id] = _Drawing(
                job.who.chat_id, job.note_id, job.who.language, now, now + PROGRESS_FIRST
            )
            self._work.set()

    def _forget_waiting(self, job_id: int) -> None:
        if job_id in self._unsent:
            del self._unsent[job_id], self._notes[job_id]  # never sent: nothing to delete
        self._to_edit.pop(job_id, None)

    def shown(self, job_id: int) -> bool:
        """Whether the job has a note in its chat (sent, or on its way)."""
        return job_id in self._notes

    def finished(self, job: Job) -> None:
        """The job's answer is out (or it was cancelled): its note goes, whichever replica sent
        it (the job's row has it)."""
        self._forget_waiting(job.id)
        self._notes.pop(job.id, None)
        self._drawing.pop(job.id, None)
        if job.note_id is not None:
            self.forget(job.who.chat_id, job.note_id)
        else:
            self._spare += 1
            self._work.set()

    def forget(self, chat_id: int, message_id: int) -> None:
        """Delete a note, whoever sent it."""
        self._to_delete.append((chat_id, message_id))
        self._work.set()

    # ---- the one task --------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_up())

    async def stop(self) -> None:
        for task in (self._task, *self._calls):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _keep_up(self) -> None:
        loop = asyncio.get_running_loop()
        next_pass = loop.time() + self._pass_interval
        while True:
            try:
                if loop.time() >= next_pass:
                    await self._look_at_places()
                    next_pass = loop.time() + self._pass_interval
                if self._to_delete:  # at once, whatever else is under way
                    self._make(self._delete(*self._to_delete.pop(0)), counted=False)
                    continue
                if not (self._due() or self._edit_due()):
                    self._work.clear()
                    wait = next_pass - loop.time()
                    if self._unsent:  # the first one is due after its delay
                        first = self._notes[next(iter(self._unsent))]
                        wait = min(wait, first.queued_at + self._note_delay - self._clock())
                    if self._drawing and self._spare:
                        soonest = min(d.due_at for d in self._drawing.values())
                        wait = min(wait, soonest - self._clock())
                    # Not wait_for, which can swallow a cancellation (bot/jobs/workers.py).
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(0.01, wait)):
                            await self._work.wait()
                    continue
                if self._under_way >= CALLS_AT_ONCE:
                    self._work.clear()
                    await self._work.wait()  # a call made, or a deletion to make
                    continue
                if (call := await self._next_call()) is not None:
                    self._make(call, counted=True)
            except Exception as exc:
                log.warning("queue notes: %s", exc)
                await asyncio.sleep(1.0)  # e.g. the database is away: do not spin

    def _make(self, call: Coroutine[Any, Any, None], *, counted: bool) -> None:
        """Start a call; `counted` ones (notes and edits) are held to CALLS_AT_ONCE. Deletions
        are not, or notes waiting for their turn would hold them back."""
        task = asyncio.create_task(call)
        self._calls.add(task)
        self._under_way += counted

        def made(task: asyncio.Task[None]) -> None:
            self._calls.discard(task)
            self._under_way -= counted
            self._work.set()
            exc = None if task.cancelled() else task.exception()
            if isinstance(exc, TelegramError):
                log.info("a queue note could not be sent, edited or deleted: %s", exc)
            elif exc is not None and not isinstance(exc, NotWanted):  # NotWanted: job started
                log.warning("queue notes: %s", exc)

        task.add_done_callback(made)

    def _progress_due(self) -> int | None:
        """A running job whose note is due for its next "Drawing…" edit."""
        now = self._clock()
        return next((job for job, d in self._drawing.items() if d.due_at <= now), None)

    def _edit_due(self) -> bool:
        """Whether an edit is due, and a spare call there for it."""
        return self._spare > 0 and (bool(self._to_edit) or self._progress_due() is not None)

    def _due(self) -> bool:
        """Whether the oldest unsent note has waited out its delay."""
        if not self._unsent:
            return False
        first = self._notes[next(iter(self._unsent))]
        return self._clock() - first.queued_at >= self._note_delay

    async def _refresh_places(self, max_age: float) -> None:
        if self._clock() - self._places_at >= max_age or max_age <= 0:
            order = await self._queue(PLACES_COUNTED)
            self._places = {job_id: ahead for ahead, job_id in enumerate(order)}
            self._places_at = self._clock()

    def _drop_started(self) -> bool:
        """Forget the due notes of jobs no longer waiting (one started, here or in another
        replica); whether any was."""
        dropped = False
        while self._due():
            job_id = next(iter(self._unsent))
            if job_id in self._places or len(self._places) >= PLACES_COUNTED:
                break
            self._forget_waiting(job_id)
            dropped = True
        return dropped

    async def _next_call(self) -> Coroutine[Any, Any, None] | None:
        """The most useful call to make now, taken off its list; None if there is none (a due
        note's job started)."""
        if self._due():
            # Counted after the job was queued, so that its absence means it started.
            first = self._notes[next(iter(self._unsent))]
            await self._refresh_places(max_age=min(1.0, self._clock() - first.queued_at))
            if self._drop_started():
                return None
            job_id, _ = self._unsent.popitem(last=False)
            note = self._notes[job_id]
            note.shown = self._places.get(job_id, PLACES_COUNTED)
            return self._send(job_id, note)
        if not self._spare:
            return None
        if (running := self._progress_due()) is not None:
            self._spare -= 1
            drawing = self._drawing[running]
            now = self._clock()
            drawing.due_at = now + PROGRESS_EVERY
            with i18n.speaking(drawing.language):
                text, button = texts.drawing(now - drawing.started_at), cancel_button(running)
            return self._edit(drawing.chat_id, drawing.message_id, text, button)
        if self._to_edit:
            job_id, ahead = self._to_edit.popitem(last=False)
            edited = self._notes.get(job_id)
            if edited is not None and edited.message_id is not None:
                self._spare -= 1
                edited.shown, edited.edited_at = ahead, self._clock()
                with i18n.speaking(edited.language):
                    text, button = texts.queued(ahead), cancel_button(job_id)
                return self._edit(edited.chat_id, edited.message_id, text, button)
        return None

    async def _delete(self, chat_id: int, message_id: int) -> None:
        await self._bot.delete_message(chat_id, message_id)

    async def _edit(
        self, chat_id: int, message_id: int, text: str, button: InlineKeyboardMarkup
    ) -> None:
        await self._bot.edit_message_text(
            text,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=button,
            rate_limit_args=_EDIT,
        )

    async def _send(self, job_id: int, note: _Note) -> None:
        reply = (
            ReplyParameters(note.reply_to, allow_sending_without_reply=True)
            if note.reply_to
            else None
        )
        with i18n.speaking(note.language):
            text, button = texts.queued(note.shown), cancel_button(job_id)
        sent = await self._bot.send_message(
            note.chat_id,
            text,
            reply_parameters=reply,
            reply_markup=button,
            # Not sent if its job starts while it waits for its turn.
            rate_limit_args=Turn(Priority.NOTE, wanted=lambda: self._notes.get(job_id) is note),
        )
        note.message_id, note.edited_at = sent.message_id, self._clock()
        # Stored with its job only while the job waits: whoever answers the job deletes it then.
        # A job that started meanwhile (here or elsewhere) would never learn of it.
        if self._notes.get(job_id) is not note or not await self._remember(job_id, sent.message_id):
            self._notes.pop(job_id, None)
            self.forget(note.chat_id, sent.message_id)

    async def _look_at_places(self) -> None:
        """Queue the edits worth making: places that at least halved, not too soon. Notes of
        jobs that are no longer waiting are no longer this task's to edit."""
        await self._refresh_places(max_age=0.0)
        now = self._clock()
        for job_id, note in list(self._notes.items()):
            ahead = self._places.get(job_id)
            if note.message_id is None:
                continue
            if ahead is None:
                del self._notes[job_id]  # started: deleted by whoever answers it
                self._to_edit.pop(job_id, None)
                continue
            if now - note.edited_at < EDIT_INTERVAL:
                continue
            if ahead != note.shown and ahead <= note.shown // 2:
                self._to_edit[job_id] = ahead
