"""The middle layer on its own, with an injected clock where time matters: the cosmetic budget
for Telegram, and the queue notes (through a real PTB Bot to the fake Telegram). The queue's fair
order is the database's: tests/test_storage.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from telegram import Bot

from bot.domain import Order, Outcome
from bot.jobs import Job, Requester
from bot.notes import EDIT_INTERVAL, NOTE_DELAY, PROGRESS_EVERY, PROGRESS_FIRST, QueueNotes
from bot.telegram_budget import CosmeticBudget
from tests.conftest import BOT_TOKEN
from tests.fakes.telegram import FakeTelegram


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- the cosmetic budget ---------------------------------------------------------------------
async def test_the_budget_hands_out_its_rate_and_drops_what_cannot_wait() -> None:
    clock = Clock()
    budget = CosmeticBudget(rate=2, burst=2, clock=clock)
    assert budget.try_spend() and budget.try_spend()
    assert not budget.try_spend()  # empty: an indicator is skipped
    clock.now += 0.5
    assert budget.try_spend()  # one more after half a second at 2 a second
    assert not budget.try_spend()


async def test_a_waiting_call_goes_before_a_droppable_one() -> None:
    clock = Clock()
    budget = CosmeticBudget(rate=1000, burst=1, clock=clock)
    assert budget.try_spend()
    waiting = asyncio.create_task(budget.spend())
    await asyncio.sleep(0)
    clock.now += 1  # room again, but a note is waiting for it
    assert not budget.try_spend()
    await waiting
    clock.now += 1
    assert budget.try_spend()


# ---- the queue notes -------------------------------------------------------------------------
@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(BOT_TOKEN, base_url=f"{telegram.url}/bot") as real:
        yield real


def _job(job_id: int, chat_id: int, note_id: int | None) -> Job:
    return Job(
        id=job_id,
        who=Requester(chat_id, chat_id),
        order=Order("a fox", "m", "1:1", "1K"),
        output_format="photo",
        file_ids=(),
        estimated_cost_usd=0.0,
        created_at=datetime.now(UTC),
        outcome=Outcome.OK,
        note_id=note_id,
    )


class Queue:
    """The waiting jobs' order, as the database would give it: `ahead` others before job 1."""

    def __init__(self, ahead: int | None) -> None:
        self.ahead = ahead

    async def __call__(self, limit: int) -> list[int]:
        others = list(range(1000, 1000 + (self.ahead or 0)))
        return ([*others, 1] if self.ahead is not None else others)[:limit]


async def test_a_note_is_sent_edited_when_its_place_halves_and_deleted(
    bot: Bot, telegram: FakeTelegram
) -> None:
    clock = Clock()
    queue = Queue(40)
    remembered: dict[int, int] = {}
    stored = asyncio.Event()

    async def remember(job_id: int, note_id: int) -> bool:
        remembered[job_id] = note_id
        stored.set()
        return True

    notes = QueueNotes(bot, CosmeticBudget(), queue, remember, clock=clock, pass_interval=0.01)
    notes.start()
    notes.waiting(1, chat_id=501, reply_to=77, language="en")
    await asyncio.sleep(0.05)
    assert telegram.sent(chat_id=501) == []  # a job may start at once: no note yet
    clock.now += NOTE_DELAY
    [sent] = await telegram.wait_for("sendMessage", 501)
    assert sent.params["text"] == "Queued: 40 ahead of you."
    assert sent.reply_to == 77
    assert sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "cancel|1"
    await asyncio.wait_for(stored.wait(), 5)

    async def a_pass(seconds: float) -> None:
        clock.now += seconds
        await asyncio.sleep(0.05)  # a few real passes

    queue.ahead = 25  # moved, but not by half: no edit
    await a_pass(EDIT_INTERVAL)
    assert telegram.sent("editMessageText") == []
    queue.ahead = 12  # halved, and the note is older than EDIT_INTERVAL
    await a_pass(1)
    [edit] = await telegram.wait_for("editMessageText", 501)
    assert edit.params["text"] == "Queued: 12 ahead of you."
    queue.ahead = 5  # halved again, but within EDIT_INTERVAL of the last edit
    await a_pass(1)
    assert len(telegram.sent("editMessageText", 501)) == 1
    await a_pass(EDIT_INTERVAL)
    await telegram.wait_for("editMessageText", 501, count=2)
    notes.finished(_job(1, 501, remembered[1]))
    [deleted] = await telegram.wait_for("deleteMessage", 501)
    assert int(deleted.params["message_id"]) == remembered[1] == sent.result["message_id"]
    await notes.stop()


async def test_a_job_that_starts_before_its_note_goes_out_gets_none(
    bot: Bot, telegram: FakeTelegram
) -> None:
    clock = Clock()

    async def remember(job_id: int, note_id: int) -> bool:
        raise AssertionError("no note was to be sent")

    # Started here: the pipeline says so.
    notes = QueueNotes(bot, CosmeticBudget(), Queue(3), remember, clock=clock)
    notes.waiting(1, chat_id=502, reply_to=None, language="en")
    notes.started(_job(1, 502, None))
    notes.finished(_job(1, 502, None))
    # Started in another replica: it is no longer in the queue when its note is due.
    elsewhere = QueueNotes(bot, CosmeticBudget(), Queue(None), remember, clock=clock)
    elsewhere.waiting(1, chat_id=503, reply_to=None, language="en")
    for started in (notes, elsewhere):
        started.start()
    clock.now += NOTE_DELAY
    await asyncio.sleep(0.2)
    for started in (notes, elsewhere):
        await started.stop()
    assert telegram.sent(chat_id=502) == []
    assert telegram.sent(chat_id=503) == []


async def test_a_note_for_a_job_that_started_while_it_was_sent_is_deleted_at_once(
    bot: Bot, telegram: FakeTelegram
) -> None:
    clock = Clock()

    async def remember(job_id: int, note_id: int) -> bool:
        return False  # the job is no longer waiting: its answer will not know of this note

    notes = QueueNotes(bot, CosmeticBudget(), Queue(2), remember, clock=clock)
    notes.start()
    notes.waiting(1, chat_id=504, reply_to=None, language="en")
    clock.now += NOTE_DELAY
    [sent] = await telegram.wait_for("sendMessage", 504)
    [deleted] = await telegram.wait_for("deleteMessage", 504)
    assert int(deleted.params["message_id"]) == sent.result["message_id"]
    await notes.stop()


async def test_a_running_jobs_note_shows_how_long_it_has_been_drawing_then_goes(
    bot: Bot, telegram: FakeTelegram
) -> None:
    clock = Clock()

    async def remember(job_id: int, note_id: int) -> bool:
        return True

    notes = QueueNotes(bot, CosmeticBudget(), Queue(0), remember, clock=clock)
    notes.start()
    notes.waiting(1, chat_id=505, reply_to=None, language="en")
    clock.now += NOTE_DELAY
    [sent] = await telegram.wait_for("sendMessage", 505)
    job = _job(1, 505, sent.result["message_id"])  # its row has the note, as a claim reads it
    notes.started(job)
    clock.now += PROGRESS_FIRST - 0.5
    await asyncio.sleep(0.1)
    assert telegram.sent("editMessageText", 505) == []  # a quick picture needs no progress
    clock.now += 0.5
    [first] = await telegram.wait_for("editMessageText", 505)
    assert first.params["text"] == "Drawing… 5 s"
    assert first.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "cancel|1"
    clock.now += PROGRESS_EVERY
    [_, second] = await telegram.wait_for("editMessageText", 505, count=2)
    assert second.params["text"] == "Drawing… 20 s"
    notes.finished(job)  # the picture is there: the note goes, and is edited no more
    [deleted] = await telegram.wait_for("deleteMessage", 505)
    assert int(deleted.params["message_id"]) == sent.result["message_id"]
    clock.now += PROGRESS_EVERY
    await asyncio.sleep(0.1)
    assert len(telegram.sent("editMessageText", 505)) == 2
    await notes.stop()
