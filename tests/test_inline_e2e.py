"""Inline mode through the real bot: from `@bot a prompt` to the picture in the inline message,
uploaded first to the user's private chat or the operator's storage chat; refusals and a user
the bot cannot write to are told in the inline message itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot import texts
from tests.conftest import StartBot
from tests.fakes.eden import FakeEden
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram, text_message

ALICE, BOB = 1001, 1002
STORAGE = -100900


async def _answered(telegram: FakeTelegram, query_id: str) -> dict[str, Any]:
    await telegram.wait_until(
        lambda: any(c.params["inline_query_id"] == query_id
                    for c in telegram.sent("answerInlineQuery"))
    )  # fmt: skip
    [answer] = [
        c for c in telegram.sent("answerInlineQuery") if c.params["inline_query_id"] == query_id
    ]
    return answer.params


async def test_an_inline_prompt_is_drawn_with_private_settings_into_the_inline_message(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    await telegram.ask(text_message(ALICE, "/ratio 16:9"))

    offer = await _answered(telegram, await telegram.inline_query(ALICE, "  a fox in   snow "))
    [article] = offer["results"]
    assert article["title"] == "Draw: a fox in snow"
    assert article["input_message_content"]["message_text"] == "Drawing: a fox in snow…"
    # Without a keyboard Telegram would not say which message to put the picture in.
    assert article["reply_markup"]["inline_keyboard"][0][0]["url"].endswith(BOT_USERNAME)
    assert offer["is_personal"] == "true"

    await telegram.choose_inline(ALICE, "a fox in snow", article["id"], "inline-1")
    [edit] = await telegram.wait_for("editMessageMedia")
    assert eden.calls[0].body["messages"][0]["content"] == "a fox in snow"
    assert eden.calls[0].body["image_config"] == {"aspect_ratio": "16:9", "image_size": "1K"}
    # Uploaded to Alice's private chat first (with the result's buttons, which work there) ...
    [upload] = telegram.sent("sendPhoto")
    assert upload.chat_id == ALICE
    assert upload.files["photo"] == eden.last_image
    assert upload.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "🔁 Again"
    # ... then put into the inline message by its file_id.
    assert edit.params["inline_message_id"] == "inline-1"
    media = edit.params["media"]
    assert media["type"] == "photo"
    assert media["media"] == upload.result["photo"][-1]["file_id"]
    assert media["caption"].startswith("a fox in snow\n\n16:9 · 1K")
    assert not telegram.sent("sendMessage", ALICE)[1:]  # no queue note, no error


async def test_a_storage_chat_takes_the_upload_and_limits_are_told_in_the_inline_message(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(INLINE_STORAGE_CHAT_ID=str(STORAGE), USER_DAILY_IMAGES="1")
    await telegram.choose_inline(BOB, "a boat", "draw", "inline-1")
    [edit] = await telegram.wait_for("editMessageMedia")
    [upload] = telegram.sent("sendPhoto")
    assert upload.chat_id == STORAGE
    assert "reply_markup" not in upload.params  # nobody there can use the buttons
    assert edit.params["media"]["media"] == upload.result["photo"][-1]["file_id"]
    assert not telegram.sent("sendChatAction", BOB)  # nothing to ask of Bob's chat

    await telegram.choose_inline(BOB, "another boat", "draw", "inline-2")
    [refusal] = await telegram.wait_for("editMessageText")
    assert refusal.params["inline_message_id"] == "inline-2"
    assert refusal.params["text"].startswith("You've used all 1 of today's images.")
    assert len(eden.calls) == 1


async def test_a_user_who_never_started_the_bot_is_told_how_in_the_inline_message(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    telegram.fail_next("sendChatAction", 403, "Forbidden: bot can't initiate conversation")
    await telegram.choose_inline(BOB, "a kite", "draw", "inline-1")
    [told] = await telegram.wait_for("editMessageText")
    assert told.params == {
        "inline_message_id": "inline-1",
        "text": texts.inline_start_first(BOT_USERNAME),
    }
    await asyncio.sleep(0.3)
    assert not eden.calls
    assert not telegram.sent("sendPhoto")


async def test_inline_mode_keeps_to_the_door_and_says_why(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(ALLOW_EVERYONE="false", ALLOWED_USER_IDS=str(ALICE))
    offer = await _answered(telegram, await telegram.inline_query(BOB, "a free picture"))
    assert offer["results"] == []
    assert offer["button"] == {"text": texts.INLINE_PRIVATE(), "start_parameter": "private"}

    await telegram.choose_inline(BOB, "a free picture", "draw", "inline-1")
    [refusal] = await telegram.wait_for("editMessageText")
    assert refusal.params["text"] == texts.access_refused(BOB)
    await asyncio.sleep(0.3)
    assert not eden.calls
