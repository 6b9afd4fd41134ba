"""The middle layer on its own, with an injected clock where time matters: the bot's Telegram
rate limiter, and the queue notes (through a real PTB bot to the fake Telegram). The queue's fair
order is the database's: tests/test_storage.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bot.domain import Order, Outcome
from bot.jobs.model import Job, Requester
from bot.telegram.budget import NotWanted, Priority, TelegramBudget, Turn
from bot.telegram.notes import EDIT_INTERVAL, NOTE_DELAY, PROGRESS_EVERY, PROGRESS_FIRST, QueueNotes
from tests.conftest import BOT_TOKEN
from tests.fakes.telegram import FakeTelegram


class Clock:
    """Time that moves only when a test moves it; `sleep` wakes when it has."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, woken))
        await woken

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for at, woken in self._sleepers:
            if at <= self.now and not woken.done():
                woken.set_result(None)
        self._sleepers = [(at, w) for at, w in self._sleepers if not w.done()]
        await _settle()


async def _settle() -> None:
    """Let every task run as far as it can without time passing."""
    for _ in range(20):
        await asyncio.sleep(0)


# ---- the rate limiter ------------------------------------------------------------------------
class Calls:
    """Calls through one limiter on a fake clock, noting the order they were made in."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.budget = TelegramBudget(30, clock=self.clock, sleep=self.clock.sleep)
        self.made: list[str] = []
        self.tasks: list[asyncio.Task[Any]] = []

    def call(
        self, name: str, endpoint: str, chat: int | None, turn: Turn | None = None
    ) -> asyncio.Task[Any]:
        async def send(*_: Any) -> bool:
            self.made.append(name)
            return True

        data = {"chat_id": chat} if chat is not None else {"callback_query_id": "1"}
        task = asyncio.create_task(self.budget.process_request(send, (), {}, endpoint, data, turn))
        self.tasks.append(task)
        return task

    async def turns(self, count: int) -> None:
        for _ in range(count):
            await self.clock.advance(1 / 30)

    async def close(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.budget.shutdown()


async def test_a_command_reply_overtakes_queued_pictures_and_a_deletion_a_new_note() -> None:
    calls = Calls()
    for i in range(3):
        calls.call(f"picture {i}", "sendPhoto", 100 + i)
    calls.call("note", "sendMessage", 200, Turn(Priority.NOTE))
    calls.call("deletion", "deleteMessage", 201)
    await _settle()
    assert calls.made == ["picture 0"]  # one call every 1/30 s: the rest wait their turn
    calls.call("/help", "sendMessage", 300)
    await calls.turns(5)
    assert calls.made == ["picture 0", "/help", "picture 1", "picture 2", "deletion", "note"]
    await calls.close()


async def test_a_chat_past_its_pace_waits_without_holding_up_other_chats() -> None:
    calls = Calls()
    for i in range(4):
        calls.call(f"a{i}", "sendMessage", 100)
    calls.call("b", "sendPhoto", 200)  # a lower priority, in another chat
    await calls.turns(5)
    assert calls.made == ["a0", "a1", "a2", "b"]  # a burst of three, then one a second
    await calls.clock.advance(1.0)
    assert calls.made[-1] == "a3"
    await calls.close()


async def test_a_retry_after_halts_every_call_then_the_call_is_made_again() -> None:
    calls = Calls()
    refusals = [RetryAfter(2)]

    async def flooded(*_: Any) -> bool:
        if refusals:
            raise refusals.pop()
        calls.made.append("picture")
        return True

    picture = asyncio.create_task(
        calls.budget.process_request(flooded, (), {}, "sendPhoto", {"chat_id": 100}, None)
    )
    await _settle()
    calls.call("/help", "sendMessage", 200)
    calls.call("button tap", "answerCallbackQuery", None)  # not limited, but it waits too
    await calls.clock.advance(2.0)
    assert calls.made == []  # retry_after + 0.1 s
    await calls.clock.advance(0.2)
    assert sorted(calls.made) == ["/help", "button tap"]
    await calls.turns(1)
    assert calls.made[-1] == "picture" and await picture is True
    await calls.close()


async def test_a_call_no_longer_wanted_when_its_turn_comes_is_not_made() -> None:
    calls = Calls()
    wanted = True
    calls.call("picture", "sendPhoto", 100)
    note = calls.call("note", "sendMessage", 200, Turn(Priority.NOTE, wanted=lambda: wanted))
    await _settle()
    wanted = False  # its job started
    await calls.turns(1)
    with pytest.raises(NotWanted):
        await note
    assert calls.made == ["picture"]
    await calls.close()


async def test_an_indicator_has_room_only_when_no_call_waits() -> None:
    calls = Calls()
    assert calls.budget.has_room()
    calls.call("picture 0", "sendPhoto", 100)
    calls.call("picture 1", "sendPhoto", 101)
    await _settle()
    assert not calls.budget.has_room()  # a picture waits
    await calls.turns(1)
    assert not calls.budget.has_room()  # none waits, but the last turn was just taken
    await calls.turns(1)
    assert calls.budget.has_room()
    assert TelegramBudget(None).has_room()  # no limits
    await calls.close()


async def test_calls_still_waiting_at_shutdown_go_at_once() -> None:
    calls = Calls()
    calls.call("picture 0", "sendPhoto", 100)
    last = calls.call("picture 1", "sendPhoto", 101)
    await _settle()
    await calls.budget.shutdown()  # the bot is closing: nothing is left hanging
    assert await last is True
    assert calls.made == ["picture 0", "picture 1"]


# ---- the queue notes -------------------------------------------------------------------------
@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[ExtBot[Turn]]:
    limited: ExtBot[Turn] = ExtBot(
        BOT_TOKEN, base_url=f"{telegram.url}/bot", rate_limiter=TelegramBudget()
    )
    async with limited:
        yield limited


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
    bot: ExtBot[Turn], telegram: FakeTelegram
) -> None:
    clock = Clock()
    queue = Queue(40)
    remembered: dict[int, int] = {}
    stored = asyncio.Event()

    async def remember(job_id: int, note_id: int) -> bool:
        remembered[job_id] = note_id
        stored.set()
        return True

    notes = QueueNotes(bot, queue, remember, clock=clock, pass_interval=0.01)
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
    # An edit is a fourth call for one request: it waits for one that a job without a note saved.
    assert telegram.sent("editMessageText") == []
    notes.finished(_job(2, 510, None))
    notes.finished(_job(3, 510, None))
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
    bot: ExtBot[Turn], telegram: FakeTelegram
) -> None:
    clock = Clock()

    async def remember(job_id: int, note_id: int) -> bool:
        raise AssertionError("no note was to be sent")

    # Started here: the pipeline says so.
    notes = QueueNotes(bot, Queue(3), remember, clock=clock)
    notes.waiting(1, chat_id=502, reply_to=None, language="en")
    notes.started(_job(1, 502, None))
    notes.finished(_job(1, 502, None))
    # Started in another replica: it is no longer in the queue when its note is due.
    elsewhere = QueueNotes(bot, Queue(None), remember, clock=clock)
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
    bot: ExtBot[Turn], telegram: FakeTelegram
) -> None:
    clock = Clock()

    async def remember(job_id: int, note_id: int) -> bool:
        return False  # the job is no longer waiting: its answer will not know of this note

    notes = QueueNotes(bot, Queue(2), remember, clock=clock)
    notes.start()
    notes.waiting(1, chat_id=504, reply_to=None, language="en")
    clock.now += NOTE_DELAY
    [sent] = await telegram.wait_for("sendMessage", 504)
    [deleted] = await telegram.wait_for("deleteMessage", 504)
    assert int(deleted.params["message_id"]) == sent.result["message_id"]
    await notes.stop()


async def test_a_running_jobs_note_shows_how_long_it_has_been_drawing_then_goes(
    bot: ExtBot[Turn], telegram: FakeTelegram
) -> None:
    clock = Clock()

    async def remember(job_id: int, note_id: int) -> bool:
        return True

    notes = QueueNotes(bot, Queue(0), remember, clock=clock)
    for quick in (2, 3):  # answered without a note: they pay for the edits
        notes.finished(_job(quick, 511, None))
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


async def test_a_note_whose_picture_is_out_is_deleted_before_new_notes_go_out(
    bot: ExtBot[Turn], telegram: FakeTelegram
) -> None:
    clock = Clock()

    async def remember(job_id: int, note_id: int) -> bool:
        return True

    notes = QueueNotes(bot, Queue(5), remember, clock=clock)
    notes.waiting(1, chat_id=506, reply_to=None, language="en")
    clock.now += NOTE_DELAY  # the new note is due
    notes.forget(507, 4321)  # and an old one's picture is out
    notes.start()
    await telegram.wait_for("sendMessage", 506)
    methods = [c.method for c in telegram.calls if c.chat_id in (506, 507)]
    assert methods == ["deleteMessage", "sendMessage"]
    await notes.stop()


async def test_a_note_waiting_for_its_turn_when_its_job_starts_is_never_sent(
    telegram: FakeTelegram,
) -> None:
    clock = Clock()

    async def remember(job_id: int, note_id: int) -> bool:
        raise AssertionError("no note was to be sent")

    budget = TelegramBudget(30, clock=clock, sleep=clock.sleep)
    async with ExtBot(BOT_TOKEN, base_url=f"{telegram.url}/bot", rate_limiter=budget) as limited:
        notes = QueueNotes(limited, Queue(3), remember, clock=clock)
        notes.waiting(1, chat_id=508, reply_to=None, language="en")
        clock.now += NOTE_DELAY
        await limited.send_message(509, "a reply")  # takes this turn: the next is 1/30 s away
        notes.start()
        await asyncio.sleep(0.2)  # the note is due, and waits for its turn
        notes.started(_job(1, 508, None))
        await clock.advance(1 / 30)
        await asyncio.sleep(0.2)
        await notes.stop()
    assert telegram.sent(chat_id=508) == []
