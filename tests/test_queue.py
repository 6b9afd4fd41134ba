"""The middle layer on its own, with an injected clock where time matters: the fair queue, the
cosmetic budget for Telegram, and the queue notes (through a real PTB Bot to the fake Telegram)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.fair_queue import FairQueue
from bot.notes import EDIT_INTERVAL, QueueNotes
from bot.telegram_budget import CosmeticBudget
from tests.conftest import BOT_TOKEN
from tests.fakes.telegram import FakeTelegram


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- the fair queue --------------------------------------------------------------------------
async def test_chats_take_turns() -> None:
    queue = FairQueue()
    # Chat 1 floods the queue first; chats 2 and 3 arrive later.
    for lane, job in [(1, 11), (1, 12), (1, 13), (2, 21), (3, 31)]:
        queue.push(lane, job)
    served = [await queue.pop() for _ in range(5)]
    assert served == [11, 21, 31, 12, 13]
    assert len(queue) == 0


async def test_places_are_counted_round_robin() -> None:
    queue = FairQueue()
    assert queue.push(1, 11) == 0
    assert queue.push(1, 12) == 1
    assert queue.push(2, 21) == 1  # a new chat goes ahead of chat 1's second job
    assert queue.push(3, 31) == 2
    assert queue.push(2, 22) == 4
    assert queue.order() == {11: 0, 21: 1, 31: 2, 12: 3, 22: 4}
    assert all(queue.ahead_of(job) == ahead for job, ahead in queue.order().items())


async def test_a_removed_job_is_never_served() -> None:
    queue = FairQueue()
    for lane, job in [(1, 11), (2, 21), (2, 22)]:
        queue.push(lane, job)
    assert queue.remove(21)
    assert not queue.remove(21)
    assert 21 not in queue
    assert [await queue.pop() for _ in range(2)] == [11, 22]


async def test_pop_waits_for_a_push() -> None:
    queue = FairQueue()
    waiting = asyncio.create_task(queue.pop())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    queue.push(5, 51)
    assert await waiting == 51


def test_ten_thousand_queued_jobs_take_little_memory() -> None:
    import tracemalloc

    tracemalloc.start()
    queue = FairQueue()
    before = tracemalloc.get_traced_memory()[0]
    for job in range(10_000):
        queue.push(job, job)  # the worst case: every job in its own chat
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert used < 5 * 1024 * 1024, used


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


async def test_a_note_is_sent_edited_when_its_place_halves_and_deleted(
    bot: Bot, telegram: FakeTelegram
) -> None:
    clock = Clock()
    places = {1: 40}
    remembered: dict[int, int] = {}
    stored = asyncio.Event()

    async def remember(job_id: int, note_id: int) -> None:
        remembered[job_id] = note_id
        stored.set()

    notes = QueueNotes(
        bot, CosmeticBudget(), lambda: dict(places), remember, clock=clock, pass_interval=0.01
    )
    notes.start()
    notes.waiting(1, chat_id=501, reply_to=77, ahead=40, language="en")
    [sent] = await telegram.wait_for("sendMessage", 501)
    assert sent.params["text"] == "Queued: 40 ahead of you."
    assert sent.reply_to == 77
    assert sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "cancel|1"
    await asyncio.wait_for(stored.wait(), 5)

    async def a_pass(seconds: float) -> None:
        clock.now += seconds
        await asyncio.sleep(0.05)  # a few real passes

    places[1] = 25  # moved, but not by half: no edit
    await a_pass(EDIT_INTERVAL)
    assert telegram.sent("editMessageText") == []
    places[1] = 12  # halved, and the note is older than EDIT_INTERVAL
    await a_pass(1)
    [edit] = await telegram.wait_for("editMessageText", 501)
    assert edit.params["text"] == "Queued: 12 ahead of you."
    places[1] = 5  # halved again, but within EDIT_INTERVAL of the last edit
    await a_pass(1)
    assert len(telegram.sent("editMessageText", 501)) == 1
    await a_pass(EDIT_INTERVAL)
    await telegram.wait_for("editMessageText", 501, count=2)
    notes.finished(1)
    [deleted] = await telegram.wait_for("deleteMessage", 501)
    assert int(deleted.params["message_id"]) == remembered[1] == sent.result["message_id"]
    await notes.stop()


async def test_a_job_that_starts_before_its_note_goes_out_gets_none(
    bot: Bot, telegram: FakeTelegram
) -> None:
    budget = CosmeticBudget(rate=1000, burst=1)
    assert budget.try_spend()  # the budget is empty for a moment

    async def remember(job_id: int, note_id: int) -> None:
        pass

    notes = QueueNotes(bot, budget, dict, remember)
    notes.waiting(1, chat_id=502, reply_to=None, ahead=3, language="en")
    notes.started(1)
    notes.finished(1)
    notes.start()
    await asyncio.sleep(0.1)
    await notes.stop()
    assert telegram.sent(chat_id=502) == []
