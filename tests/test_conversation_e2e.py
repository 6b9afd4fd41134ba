"""Conversations through the real bot process: a reply to a result, or /mode chat, sends the
thread's earlier turns upstream; a gateway that refuses them gets the flattened form."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot import texts
from bot.config import EdenSettings
from bot.ops.live_check import FOLLOW_UP, PROMPT, live_check
from tests.conftest import StartBot
from tests.fakes.database import rows
from tests.fakes.eden import API_KEY, FakeEden
from tests.fakes.images import png
from tests.fakes.telegram import Call, FakeTelegram, text_message

ALICE = 4242
RED, BLUE, GREEN = png(64, 64, (200, 0, 0)), png(64, 64, (0, 0, 200)), png(64, 64, (0, 150, 0))


def _decoded(part: dict[str, Any]) -> bytes:
    return base64.b64decode(part["image_url"]["url"].split(",", 1)[1])


def turns_sent(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The message list sent upstream, readable: (role, text or decoded images)."""
    turns: list[tuple[str, Any]] = []
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            turns.append((message["role"], content))
            continue
        words = [p["text"] for p in content if p["type"] == "text"]
        images = [_decoded(p) for p in content if p["type"] == "image_url"]
        turns.append((message["role"], (words, images)))
    return turns


async def _result(
    telegram: FakeTelegram, eden: FakeEden, tmp_path: Path, image: bytes, message: Any
) -> Call:
    """Send `message`; the bot's picture, made of `image` by the fake Eden, once the bot has
    recorded it (as a user's next message, seconds later, would find it)."""
    eden.image = image
    reply = await telegram.answer(message)
    assert reply.method == "sendPhoto", reply.params
    await recorded(tmp_path, reply.result["message_id"])
    return reply


async def recorded(tmp_path: Path, message_id: int) -> None:
    """Wait until the bot has recorded the result it sent as `message_id` (with its job's
    closing, just after the upload)."""
    for _ in range(100):
        if rows(tmp_path, "SELECT 1 FROM requests WHERE result_message_id = ?", message_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the result was never recorded")


async def test_a_reply_to_a_result_carries_the_threads_earlier_turns_even_after_a_restart(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    # Gemini's thought signatures, as an OpenAI-style gateway returns them: sent back with the
    # picture they came with.
    signature = [{"type": "reasoning.encrypted", "data": "c2lnbmF0dXJl", "index": 0}]
    eden.reasoning_details = signature
    bot = await start_bot()
    first = await _result(telegram, eden, tmp_path, RED, text_message(ALICE, "a cat on a sofa"))
    second = await _result(
        telegram, eden, tmp_path, BLUE, text_message(ALICE, "make it blue", reply_to=first.result)
    )
    assert turns_sent(eden.calls[1].body) == [
        ("user", "a cat on a sofa"),
        ("assistant", ([], [RED])),
        ("user", "make it blue"),
    ]
    assert " · turn 2" in second.params["caption"]
    assert "turn" not in first.params["caption"]
    assert "🆕 New" not in str(second.params["reply_markup"])  # single mode: replies continue
    # The thread is in the database: a restarted bot continues it.
    await bot.stop()
    await start_bot()
    third = await _result(
        telegram, eden, tmp_path, GREEN, text_message(ALICE, "now at night", reply_to=second.result)
    )
    assert turns_sent(eden.calls[2].body) == [
        ("user", "a cat on a sofa"),
        ("assistant", ([], [RED])),
        ("user", "make it blue"),
        ("assistant", ([], [BLUE])),
        ("user", "now at night"),
    ]
    reasoning = [m.get("reasoning_details") for m in eden.calls[2].body["messages"]]
    assert reasoning == [None, signature, None, signature, None]
    assert " · turn 3" in third.params["caption"]
    # A plain message in single mode stands alone.
    await _result(telegram, eden, tmp_path, RED, text_message(ALICE, "a lighthouse"))
    assert turns_sent(eden.calls[3].body) == [("user", "a lighthouse")]


async def test_chat_mode_continues_every_message_until_the_new_button(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(CONVERSATION_MAX_TURNS="2")
    assert await telegram.ask(text_message(ALICE, "/mode chat")) == texts.MODE_CHAT()
    first = await _result(telegram, eden, tmp_path, RED, text_message(ALICE, "a red kite"))
    await _result(telegram, eden, tmp_path, BLUE, text_message(ALICE, "make it blue"))
    third = await _result(telegram, eden, tmp_path, GREEN, text_message(ALICE, "add a second kite"))
    assert turns_sent(eden.calls[1].body) == [
        ("user", "a red kite"),
        ("assistant", ([], [RED])),
        ("user", "make it blue"),
    ]
    # Two turns at most: the oldest is dropped, the turn count goes on.
    assert turns_sent(eden.calls[2].body) == [
        ("user", "make it blue"),
        ("assistant", ([], [BLUE])),
        ("user", "add a second kite"),
    ]
    assert " · turn 3" in third.params["caption"]
    rows = third.params["reply_markup"]["inline_keyboard"]
    [new] = [b["callback_data"] for row in rows for b in row if b["text"] == "🆕 New"]
    assert "🆕 New" in str(first.params["reply_markup"])

    query = await telegram.press(third.result, new, ALICE)
    await telegram.wait_until(
        lambda: any(
            c.params["callback_query_id"] == query for c in telegram.sent("answerCallbackQuery")
        )
    )
    [tapped] = [
        c for c in telegram.sent("answerCallbackQuery") if c.params["callback_query_id"] == query
    ]
    assert tapped.params["text"] == texts.NEW_THREAD()
    await _result(telegram, eden, tmp_path, RED, text_message(ALICE, "a sailing boat"))
    assert turns_sent(eden.calls[3].body) == [("user", "a sailing boat")]

    assert await telegram.ask(text_message(ALICE, "/mode single")) == texts.MODE_SINGLE()
    await _result(telegram, eden, tmp_path, RED, text_message(ALICE, "a harbour"))
    assert turns_sent(eden.calls[4].body) == [("user", "a harbour")]


async def test_a_gateway_refusing_the_models_pictures_gets_the_last_picture_and_words(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.refuse_assistant_images = True
    bot = await start_bot()
    first = await _result(telegram, eden, tmp_path, RED, text_message(ALICE, "a cat on a sofa"))
    second = await _result(
        telegram, eden, tmp_path, BLUE, text_message(ALICE, "make it blue", reply_to=first.result)
    )
    await _result(
        telegram, eden, tmp_path, GREEN, text_message(ALICE, "now at night", reply_to=second.result)
    )
    # The first try with turns was refused; from then on this model gets the flattened form.
    assert [len(c.body["messages"]) for c in eden.calls] == [1, 3, 1, 1]
    [(role, (words, images))] = turns_sent(eden.calls[3].body)
    assert role == "user"
    assert images == [BLUE]
    assert words == [
        "This continues a conversation. Earlier instructions, oldest first:\n"
        "1. a cat on a sofa\n2. make it blue\n"
        "The first image is the latest result; keep what those instructions established.\n"
        "Now: now at night"
    ]
    assert bot.output.count("Eden refused a conversation's turns") == 1


class _Lines:
    """What `check --live` reports, line by line."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []

    def ok(self, what: str, detail: str = "") -> None:
        self.lines.append(("ok", what, detail))

    def note(self, what: str, detail: str) -> None:
        self.lines.append(("note", what, detail))

    def fail(self, what: str, problem: str, fix: str) -> None:
        self.lines.append(("fail", what, problem))


@pytest.mark.parametrize("refused", [False, True])
async def test_the_live_check_tries_a_second_turn_and_says_whether_turns_pass(
    eden: FakeEden, refused: bool
) -> None:
    eden.refuse_assistant_images = refused
    eden.image = RED
    report = _Lines()
    await live_check(EdenSettings(api_key=SecretStr(API_KEY), base_url=eden.base_url), report)
    [(verdict, _, detail)] = [line for line in report.lines if line[1] == "live conversation"]
    # One trial per protocol, then the second turn with the chat trial's picture as the model's.
    assert [c.path for c in eden.calls[:3]] == [
        "/chat/completions",
        "/images/generations",
        "/chat/completions",
    ]
    assert turns_sent(eden.calls[2].body) == [
        ("user", PROMPT),
        ("assistant", ([], [RED])),
        ("user", FOLLOW_UP),
    ]
    if refused:
        assert verdict == "note"
        assert "the last picture and the earlier instructions in words" in detail
        [(_, (_, images))] = turns_sent(eden.calls[3].body)  # sent flattened instead
        assert images == [RED]
    else:
        # Then Nano Banana 2.1's two 512 probes (tests/test_fidelity_e2e.py).
        assert (verdict, len(eden.calls)) == ("ok", 5)
