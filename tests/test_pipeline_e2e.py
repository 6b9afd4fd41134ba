"""The request pipeline through the real bot: a crowd far larger than the cap, commands answered
while it waits, Telegram's flood budget kept, jobs that outlive restarts, and Cancel buttons."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import StartBot
from tests.fakes.database import rows
from tests.fakes.eden import FakeEden
from tests.fakes.telegram import FakeTelegram, text_message

CROWD = 320
FIRST_CHAT = 10_000


def _outcomes(tmp_path: Path) -> list[str]:
    return [row[0] for row in rows(tmp_path, "SELECT outcome FROM requests ORDER BY id")]


async def _settled(tmp_path: Path, expected: list[str]) -> list[str]:
    """The outcomes once they match `expected` (a job's line is closed just after its answer
    went out), or as they are after a few seconds."""
    for _ in range(50):
        if sorted(outcomes := _outcomes(tmp_path)) == sorted(expected):
            break
        await asyncio.sleep(0.1)
    return outcomes


def _answers(telegram: FakeTelegram, message: dict[str, Any]) -> list[str]:
    """The methods of everything the bot sent in reply to `message`."""
    chat = message["chat"]["id"]
    return [
        c.method
        for c in telegram.calls
        if c.chat_id == chat and c.reply_to == message["message_id"]
    ]


async def test_a_crowd_far_past_the_cap_is_served_and_help_still_answers(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(MAX_CONCURRENT_GENERATIONS="2")
    chats = range(FIRST_CHAT, FIRST_CHAT + CROWD)
    for chat in chats:
        await telegram.send(text_message(chat, f"picture {chat}"))
    # Every request holds an update slot no longer than it takes to write it down, so a
    # command from someone else is answered while the whole crowd waits.
    help_message = await telegram.send(text_message(77, "/help"))
    sent = time.monotonic()
    await telegram.reply_to(help_message, timeout=10)
    help_seconds = time.monotonic() - sent
    assert len(telegram.sent("sendPhoto")) < CROWD / 2, "the crowd was not waiting yet"

    await telegram.wait_for("sendPhoto", count=CROWD, timeout=120)
    await telegram.wait_for("deleteMessage", count=len(telegram.sent("sendMessage")) - 1)
    assert help_seconds < 5
    photos = Counter(c.chat_id for c in telegram.sent("sendPhoto"))
    assert photos == Counter(chats)  # every chat got its picture, once
    crowd_calls = [c for c in telegram.calls if c.chat_id in photos]
    by_method = Counter(c.method for c in crowd_calls)
    # A note, the picture, the note's deletion, and perhaps "uploading photo…" or an edit.
    assert len(crowd_calls) / CROWD <= 3.5, by_method
    per_second = Counter(int(c.at) for c in telegram.calls)
    assert max(per_second.values()) <= 35, per_second.most_common(3)


async def test_queued_jobs_are_carried_out_after_sigterm_and_a_restart(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.then_hang(2)
    bot = await start_bot(MAX_CONCURRENT_GENERATIONS="1", SHUTDOWN_GRACE_SECONDS="15")
    first = await telegram.send(text_message(1, "running at the stop"))
    await eden.wait_for_calls(1)
    queued = [await telegram.send(text_message(chat, f"queued {chat}")) for chat in (2, 3)]
    notes = await telegram.wait_for("sendMessage", count=2)
    assert await bot.stop(signal.SIGTERM) == 0
    assert _answers(telegram, first) == ["sendPhoto"]  # it had its grace period
    assert _outcomes(tmp_path) == ["ok", "queued", "queued"]

    await start_bot(MAX_CONCURRENT_GENERATIONS="1")
    for message in queued:
        await telegram.wait_for("sendPhoto", message["chat"]["id"])
    assert [_answers(telegram, m) for m in queued] == [["sendMessage", "sendPhoto"]] * 2
    deleted = await telegram.wait_for("deleteMessage", count=2)
    assert {int(d.params["message_id"]) for d in deleted} == {n.result["message_id"] for n in notes}
    assert len(eden.calls) == 3
    assert await _settled(tmp_path, ["ok"] * 3) == ["ok"] * 3


async def test_queued_jobs_survive_kill_9_and_the_running_one_is_not_paid_twice(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.then_hang(30)
    bot = await start_bot(MAX_CONCURRENT_GENERATIONS="1")
    lost = await telegram.send(text_message(1, "upstream at the crash"))
    await eden.wait_for_calls(1)
    queued = [await telegram.send(text_message(chat, f"queued {chat}")) for chat in (2, 3)]
    await telegram.wait_for("sendMessage", count=2)
    await bot.stop(signal.SIGKILL)
    assert _outcomes(tmp_path) == ["running", "queued", "queued"]

    await start_bot(MAX_CONCURRENT_GENERATIONS="1")
    reply = await telegram.reply_to(lost)
    assert reply.params["text"] == "The bot restarted while working on this. Please send it again."
    for message in queued:
        await telegram.wait_for("sendPhoto", message["chat"]["id"])
    # The one that was upstream is not sent again: the upstream may have done and billed it.
    # (The two queued ones were handled concurrently: either may have been stored first.)
    prompts = [c.body["messages"][0]["content"] for c in eden.calls]
    assert (prompts[0], sorted(prompts[1:])) == ("upstream at the crash", ["queued 2", "queued 3"])
    assert await _settled(tmp_path, ["interrupted", "ok", "ok"]) == ["interrupted", "ok", "ok"]


async def test_the_cancel_button_stops_a_queued_and_then_a_running_job(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.then_hang(1.5)  # A's
    eden.then_hang(30)  # C's, cancelled while running
    await start_bot(MAX_CONCURRENT_GENERATIONS="1")
    a = await telegram.send(text_message(1, "first"))
    await eden.wait_for_calls(1)
    b = await telegram.send(text_message(2, "second"))
    c = await telegram.send(text_message(3, "third"))
    [note_b] = await telegram.wait_for("sendMessage", 2)
    [note_c] = await telegram.wait_for("sendMessage", 3)

    # Someone else's tap changes nothing.
    await telegram.press(note_b.result, note_b_button := _button(note_b), user_id=3)
    [refused] = await telegram.wait_for("answerCallbackQuery")
    assert refused.params["text"] == "Only the person who asked for this picture can cancel it."
    # The owner's tap takes the queued job out: it never reaches the upstream.
    await telegram.press(note_b.result, note_b_button, user_id=2)
    answered = await telegram.wait_for("answerCallbackQuery", count=2)
    assert answered[1].params["text"] == "Cancelled."
    await telegram.wait_until(
        lambda: any(int(d.params["message_id"]) == note_b.result["message_id"]
                    for d in telegram.sent("deleteMessage"))
    )  # fmt: skip

    # A finishes; C runs (B was skipped) and is cancelled mid-generation from its note.
    await telegram.reply_to(a)
    await eden.wait_for_calls(2)
    await telegram.press(note_c.result, _button(note_c), user_id=3)
    answered = await telegram.wait_for("answerCallbackQuery", count=3)
    assert answered[2].params["text"] == (
        "Stopped. This one still counts: its picture was already being made."
    )
    await telegram.wait_until(lambda: len(telegram.sent("deleteMessage")) == 2)
    assert [c.body["messages"][0]["content"] for c in eden.calls] == ["first", "third"]
    assert _answers(telegram, b) == ["sendMessage"]  # its note, nothing else
    assert _answers(telegram, c) == ["sendMessage"]
    expected = ["ok", "cancelled", "cancelled"]
    assert await _settled(tmp_path, expected) == expected


async def test_a_forged_or_stale_cancel_button_is_answered(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot()
    done = await telegram.send(text_message(1, "a fox"))
    photo = await telegram.reply_to(done)
    for data in ("cancel|1", "cancel|999999", "cancel|x", "cancel|" + "9" * 40):
        await telegram.press(photo.result, data, user_id=1)
    answers = await telegram.wait_for("answerCallbackQuery", count=4)
    assert {a.params.get("text") for a in answers} == {"That picture is already done or cancelled."}


def _button(note: Any) -> str:
    [[button]] = note.params["reply_markup"]["inline_keyboard"]
    return str(button["callback_data"])
