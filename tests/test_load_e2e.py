"""Concurrency, the fair queue, /cancel, retries, the breaker, Telegram faults and restarts,
through the real bot process."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from bot import i18n
from tests.conftest import StartBot
from tests.fakes.database import rows
from tests.fakes.eden import FakeEden
from tests.fakes.telegram import FakeTelegram, text_message

A, B, C = 2001, 2002, 2003


def _prompts(eden: FakeEden) -> list[str]:
    return [c.body["messages"][0]["content"] for c in eden.calls]


def _outcomes(tmp_path: Path) -> list[str]:
    return [row[0] for row in rows(tmp_path, "SELECT outcome FROM requests ORDER BY id")]


async def _stored(tmp_path: Path, count: int) -> None:
    for _ in range(100):
        if len(_outcomes(tmp_path)) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} requests were not stored")


# ---- concurrency and the queue ---------------------------------------------------------------
async def test_a_slow_chat_does_not_hold_up_another(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_hang(3)
    await start_bot()
    slow = await telegram.send(text_message(A, "a slow painting"))
    await eden.wait_for_calls(1)
    fast = await telegram.send(text_message(B, "a quick sketch"))
    first = await telegram.wait_for("sendPhoto", count=1)
    assert first[0].chat_id == B
    assert (await telegram.reply_to(fast)).method == "sendPhoto"
    assert (await telegram.reply_to(slow)).method == "sendPhoto"


async def test_the_cap_queues_requests_and_tells_their_place(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_hang(4.0)
    eden.then_hang(0.5)
    await start_bot(MAX_CONCURRENT_GENERATIONS="1")
    first = await telegram.send(text_message(A, "first"))
    await eden.wait_for_calls(1)
    second = await telegram.send(text_message(B, "second"))
    [note_b] = await telegram.wait_for("sendMessage", B)
    third = await telegram.send(text_message(C, "third"))
    [note_c] = await telegram.wait_for("sendMessage", C)
    assert note_b.params["text"] == "Queued: you're next."
    assert note_c.params["text"] == "Queued: 1 ahead of you."
    assert note_b.reply_to == second["message_id"]
    [[button]] = note_c.params["reply_markup"]["inline_keyboard"]
    assert button["text"] == "Cancel"
    # Every answer is a reply to its prompt, and every note is deleted once it is there.
    for message in (first, second, third):
        [photo] = await telegram.wait_for("sendPhoto", message["chat"]["id"])
        assert photo.reply_to == message["message_id"]
    deleted = await telegram.wait_for("deleteMessage", count=2)
    assert {int(d.params["message_id"]) for d in deleted} == {
        note_b.result["message_id"],
        note_c.result["message_id"],
    }
    # A place that moved by one within seconds is not worth an edit (see test_queue.py).
    assert telegram.sent("editMessageText") == []
    # The first had a free slot: no note, just "uploading photo…".
    assert telegram.sent("sendMessage", A) == []
    assert _prompts(eden) == ["first", "second", "third"]


async def test_a_queued_jobs_note_shows_the_drawing_then_goes_with_the_picture(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_hang(2.5)
    eden.then_hang(7.5)
    await start_bot(MAX_CONCURRENT_GENERATIONS="1")
    await telegram.send(text_message(A, "first"))
    await eden.wait_for_calls(1)
    second = await telegram.send(text_message(B, "second"))
    [note] = await telegram.wait_for("sendMessage", B)
    assert note.params["text"] == "Queued: you're next."
    # Its turn came: after a few seconds the note says how long the drawing has taken.
    [edit] = await telegram.wait_for("editMessageText", B, timeout=15)
    assert int(edit.params["message_id"]) == note.result["message_id"]
    assert edit.params["text"].startswith("Drawing… ")
    assert 5 <= int(edit.params["text"].split()[1]) <= 7
    [button] = edit.params["reply_markup"]["inline_keyboard"][0]
    assert button["text"] == "Cancel"
    [photo] = await telegram.wait_for("sendPhoto", B)
    assert photo.reply_to == second["message_id"]
    [deleted] = await telegram.wait_for("deleteMessage", B)
    assert int(deleted.params["message_id"]) == note.result["message_id"]


async def test_chats_take_turns_in_the_queue(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    for _ in range(5):
        eden.then_hang(0.4)
    await start_bot(MAX_CONCURRENT_GENERATIONS="1", USER_MAX_IN_FLIGHT="5")
    await telegram.wait_for("setMyCommands")
    for count, prompt in enumerate(("a1", "a2", "a3"), start=1):
        await telegram.send(text_message(A, prompt))
        # Updates are handled concurrently: each is stored before the next is sent, so that
        # the order of arrival is the one written.
        await _stored(tmp_path, count)
    await eden.wait_for_calls(1)
    await telegram.send(text_message(B, "b1"))
    await telegram.wait_for("sendPhoto", count=4, timeout=20)
    # Chat A queued three; B arrived last but is served before A's third.
    assert _prompts(eden) == ["a1", "a2", "b1", "a3"]


async def test_cancel_a_queued_and_a_running_request(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.then_hang(30)
    bot = await start_bot(MAX_CONCURRENT_GENERATIONS="1")
    running = await telegram.send(text_message(A, "running"))
    await eden.wait_for_calls(1)
    await telegram.send(text_message(B, "queued"))
    [note] = await telegram.wait_for("sendMessage", B)

    reply = await telegram.answer(text_message(B, "/cancel"))
    assert reply.params["text"] == "Cancelled."
    [deleted] = await telegram.wait_for("deleteMessage", B)
    assert deleted.params["message_id"] == str(note.result["message_id"])

    # A's was sent upstream already: the upstream bills it, so it counts, and A is told so.
    reply = await telegram.answer(text_message(A, "/cancel"))
    assert reply.params["text"] == (
        "Stopped. This one still counts: its picture was already being made."
    )
    nothing = await telegram.answer(text_message(A, "/cancel"))
    assert nothing.params["text"] == "You have no picture in progress here."
    await asyncio.sleep(0.3)
    assert telegram.sent("sendPhoto") == []
    assert not [c for c in telegram.sent("sendMessage", A) if c.reply_to == running["message_id"]]
    assert _prompts(eden) == ["running"]
    assert "Today: 1 image," in await telegram.ask(text_message(A, "/usage"))
    await bot.stop()
    # A's at its estimate: Nano Banana 2.1's list price at 1K.
    assert rows(
        tmp_path, "SELECT user_id, outcome, cost_usd, cost_estimated FROM requests ORDER BY id"
    ) == [(A, "cancelled", 0.0336, 1), (B, "cancelled", 0.0, 0)]


# ---- retries and the breaker (what is retried, how often and when: tests/test_retries.py) ----
async def test_retries_are_bounded_and_the_user_is_told(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    for _ in range(5):
        eden.then_json({"error": {"message": "down"}}, status=503)
    await start_bot(UPSTREAM_RETRIES="2")
    reply = await telegram.answer(text_message(A, "a fox"))
    assert reply.params["text"] == (
        "The image service had a problem making this image (I tried 3 times). "
        "Please try again in a minute."
    )
    assert len(eden.calls) == 3


async def test_the_breaker_opens_then_a_probe_closes_it(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    for _ in range(2):
        eden.then_json({"error": {"message": "down"}}, status=500)
    bot = await start_bot(BREAKER_THRESHOLD="2", BREAKER_COOLOFF_SECONDS="3")
    for user, prompt in ((A, "one"), (B, "two")):
        reply = await telegram.answer(text_message(user, prompt))
        assert "had a problem" in reply.params["text"]
    reply = await telegram.answer(text_message(C, "three"))
    assert reply.params["text"].startswith("The image service is down right now")
    assert len(eden.calls) == 2  # answered without calling the service
    await asyncio.sleep(3.1)
    reply = await telegram.answer(text_message(C, "four"))
    assert reply.method == "sendPhoto"
    reply = await telegram.answer(text_message(A, "five"))
    assert reply.method == "sendPhoto"
    assert len(eden.calls) == 4
    assert "failing fast" in bot.output
    assert "circuit closed" in bot.output


# ---- Telegram faults -------------------------------------------------------------------------
async def test_a_telegram_429_on_send_photo_is_waited_out(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.fail_next("sendPhoto", 429, "Too Many Requests: retry after 1", retry_after=1)
    await start_bot()
    await telegram.send(text_message(A, "a fox"))
    _refused, delivered = await telegram.wait_for("sendPhoto", A, count=2)
    assert delivered.files["photo"] == eden.last_image
    assert telegram.sent("sendDocument") == []


async def test_a_reply_to_a_deleted_message_is_sent_without_the_link(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_hang(1)
    await start_bot()
    message = await telegram.send(text_message(A, "a fox"))
    await eden.wait_for_calls(1)
    telegram.deleted.add((A, message["message_id"]))
    [photo] = await telegram.wait_for("sendPhoto", A)
    assert photo.files["photo"] == eden.last_image
    assert photo.reply_to is None


async def test_a_polling_outage_is_survived_and_logged_once(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    bot = await start_bot(LOG_LEVEL="INFO")
    await telegram.wait_for("deleteWebhook")
    for _ in range(3):
        telegram.fail_next("getUpdates", 502, "Bad Gateway")
    await asyncio.sleep(4)
    reply = await telegram.answer(text_message(A, "after the outage"))
    assert reply.method == "sendPhoto"
    await bot.stop()
    assert bot.output.count("cannot reach Telegram") == 1
    assert "Traceback" not in bot.output


# ---- restarts --------------------------------------------------------------------------------
async def test_sigterm_lets_a_request_in_flight_finish(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.then_hang(2)
    bot = await start_bot()
    message = await telegram.send(text_message(A, "finish me"))
    await eden.wait_for_calls(1)
    exit_code = asyncio.create_task(bot.stop(signal.SIGTERM))
    reply = await telegram.reply_to(message)
    assert reply.method == "sendPhoto"
    assert await exit_code == 0
    assert _outcomes(tmp_path) == ["ok"]


async def test_sigterm_past_the_grace_tells_the_user_to_send_again(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.then_hang(30)
    bot = await start_bot(SHUTDOWN_GRACE_SECONDS="0.5")
    message = await telegram.send(text_message(A, "too slow"))
    await eden.wait_for_calls(1)
    started = time.monotonic()
    assert await bot.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    reply = await telegram.reply_to(message)
    assert reply.params["text"] == "The bot restarted while working on this. Please send it again."
    assert _outcomes(tmp_path) == ["interrupted"]
    # Nothing is left for the next start to apologise for.
    await start_bot()
    await telegram.wait_for("setMyCommands", count=2 * len(i18n.LANGUAGES))
    assert len(telegram.sent("sendMessage", A)) == 1


async def test_kill_9_mid_generation_is_answered_at_the_next_start(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.then_hang(30)
    bot = await start_bot()
    message = await telegram.send(text_message(A, "lost in a crash"))
    await eden.wait_for_calls(1)
    await bot.stop(signal.SIGKILL)
    assert _outcomes(tmp_path) == ["running"]
    await start_bot()
    reply = await telegram.reply_to(message)
    assert reply.params["text"] == "The bot restarted while working on this. Please send it again."
    await asyncio.sleep(0.2)
    assert _outcomes(tmp_path) == ["interrupted"]
