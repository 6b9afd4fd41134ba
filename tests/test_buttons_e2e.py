"""The buttons under a result, through the real bot: again, x4, another ratio and larger, each a
new job of whoever pressed; stale, forged and refused taps; stored requests forgotten in time."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import texts
from bot.jobs.variants import ENLARGE_INSTRUCTION
from tests.conftest import StartBot
from tests.fakes.database import rows
from tests.fakes.eden import FakeEden
from tests.fakes.telegram import BOT_USERNAME, Call, FakeTelegram, chat, text_message

ALICE, BOB = 1001, 1002
GROUP = -100700


def _ledger(tmp_path: Path) -> list[tuple[Any, ...]]:
    return rows(tmp_path, "SELECT user_id, chat_id, outcome, images FROM requests ORDER BY id")


def _age(tmp_path: Path, days: int) -> None:
    """Make every stored request `days` old."""
    then = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
    rows(tmp_path, "UPDATE requests SET created_at = ?", then)


async def _settled(tmp_path: Path, rows: int) -> list[tuple[Any, ...]]:
    """The ledger once `rows` jobs are closed (a line closes just after its answer)."""
    for _ in range(50):
        ledger = _ledger(tmp_path)
        if len(ledger) >= rows and all(r[2] not in ("queued", "running") for r in ledger):
            break
        await asyncio.sleep(0.1)
    return ledger


def _keyboard(call: Call) -> dict[str, str]:
    """A message's buttons: label -> callback data."""
    rows = call.params["reply_markup"]["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in rows for b in row}


def _prompt(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def _images(body: dict[str, Any]) -> list[bytes]:
    content = body["messages"][0]["content"]
    return [
        base64.b64decode(p["image_url"]["url"].split(",", 1)[1])
        for p in content
        if not isinstance(content, str) and p["type"] == "image_url"
    ]


async def _result_in_group(telegram: FakeTelegram, prompt: str, user_id: int = ALICE) -> Call:
    """`user_id` asks in the group; the bot's photo."""
    asked = await telegram.send(text_message(GROUP, f"@{BOT_USERNAME} {prompt}", user_id))
    return await telegram.reply_to(asked)


async def _tap(telegram: FakeTelegram, message: dict[str, Any], data: str, user_id: int) -> Call:
    """Press a button; the bot's answer to that tap."""
    query_id = await telegram.press(message, data, user_id)
    await telegram.wait_until(
        lambda: any(c.params["callback_query_id"] == query_id
                    for c in telegram.sent("answerCallbackQuery"))
    )  # fmt: skip
    [answer] = [
        c for c in telegram.sent("answerCallbackQuery") if c.params["callback_query_id"] == query_id
    ]
    return answer


async def _studio(telegram: FakeTelegram, call: Call, user_id: int) -> dict[str, str]:
    """The studio's buttons, as "More…" tapped under the result `call` opens them in place."""
    opened = len(telegram.sent("editMessageReplyMarkup"))
    await _tap(telegram, call.result, _keyboard(call)["More…"], user_id)
    menus = await telegram.wait_for("editMessageReplyMarkup", count=opened + 1)
    return _keyboard(menus[-1])


async def test_again_runs_the_same_request_as_a_job_of_whoever_pressed(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(GROUP_COOLDOWN_SECONDS="0", DEFAULT_ASPECT_RATIO="3:2")
    first = await _result_in_group(telegram, "a red fox")
    buttons = _keyboard(first)
    assert list(buttons) == ["🔁 Again", "×4", "Ratio…", "⬆ 4K", "More…"]
    assert all(len(data.encode()) <= 64 for data in buttons.values())

    answer = await _tap(telegram, first.result, buttons["🔁 Again"], BOB)
    assert answer.params["text"] == texts.RESULT_BUTTON_TAKEN()
    again = (await telegram.wait_for("sendPhoto", GROUP, count=2))[1]
    assert again.reply_to == first.result["message_id"]
    assert again.params["caption"].startswith("a red fox\n\n3:2 · 1K")
    assert _keyboard(again)  # a result like any other
    assert eden.calls[0].body == eden.calls[1].body
    assert eden.calls[1].body["image_config"] == {"aspect_ratio": "3:2", "image_size": "1K"}
    # Bob pressed, so Bob pays: the new line is his.
    assert await _settled(tmp_path, 2) == [(ALICE, GROUP, "ok", 1), (BOB, GROUP, "ok", 1)]


async def test_four_variants_come_as_one_album_and_count_as_four_images(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(GROUP_COOLDOWN_SECONDS="0", USER_DAILY_IMAGES="5")
    first = await _result_in_group(telegram, "a lighthouse")
    four = _keyboard(first)["×4"]

    assert (await _tap(telegram, first.result, four, BOB)).params["text"] == (
        texts.RESULT_BUTTON_TAKEN()
    )
    [album] = await telegram.wait_for("sendMediaGroup", GROUP)
    assert album.reply_to == first.result["message_id"]
    media = album.params["media"]
    assert [m["type"] for m in media] == ["photo"] * 4
    assert media[0]["caption"].startswith("a lighthouse\n\n1:1 · 1K")
    assert [m.get("caption") for m in media[1:]] == [None] * 3  # one caption for the album
    uploads = [album.files[m["media"].removeprefix("attach://")] for m in media]
    assert uploads == [eden.last_image] * 4
    assert [_prompt(c.body) for c in eden.calls] == ["a lighthouse"] * 5
    assert await _settled(tmp_path, 2) == [(ALICE, GROUP, "ok", 1), (BOB, GROUP, "ok", 4)]

    # Bob has 1 of his 5 left: four more are refused, one is not. Alice's 4 are untouched.
    refused = await _tap(telegram, first.result, four, BOB)
    assert refused.params["text"].startswith(
        "That's 4 images, and you have 1 of today's 5 left. The limit resets at"
    )
    assert refused.params["show_alert"] == "true"
    assert len(eden.calls) == 5
    again = _keyboard(first)["🔁 Again"]
    assert (await _tap(telegram, first.result, again, BOB)).params["text"] == (
        texts.RESULT_BUTTON_TAKEN()
    )
    assert (await _tap(telegram, first.result, four, ALICE)).params["text"] == (
        texts.RESULT_BUTTON_TAKEN()
    )
    await telegram.wait_for("sendMediaGroup", GROUP, count=2)
    assert [r[3] for r in await _settled(tmp_path, 4)] == [1, 4, 1, 4]


async def test_the_ratio_button_offers_the_models_ratios_and_reruns_with_the_one_picked(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot()
    asked = await telegram.send(text_message(ALICE, "a castle"))
    first = await telegram.reply_to(asked)

    await _tap(telegram, first.result, _keyboard(first)["Ratio…"], ALICE)
    [menu] = await telegram.wait_for("editMessageReplyMarkup")
    assert int(menu.params["message_id"]) == first.result["message_id"]
    ratios = _keyboard(menu)
    # Gemini 3.1 Flash's fourteen, the current one marked, and a way back.
    assert list(ratios) == ["✓ 1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "2:3", "3:2",
                            "4:5", "5:4", "1:4", "4:1", "1:8", "8:1", "« Back"]  # fmt: skip

    taken = await _tap(telegram, first.result, ratios["16:9"], ALICE)
    assert taken.params["text"] == texts.RESULT_BUTTON_TAKEN()
    wide = (await telegram.wait_for("sendPhoto", ALICE, count=2))[1]
    assert wide.params["caption"].startswith("a castle\n\n16:9 · 1K")
    assert _prompt(eden.calls[1].body) == "a castle"
    assert eden.calls[1].body["image_config"] == {"aspect_ratio": "16:9", "image_size": "1K"}
    # The first row is back under the first picture.
    restored = (await telegram.wait_for("editMessageReplyMarkup", count=2))[1]
    assert list(_keyboard(restored)) == list(_keyboard(first))

    forged = ratios["16:9"].replace("16:9", "7:3")
    unknown = await _tap(telegram, first.result, forged, ALICE)
    assert unknown.params["text"] == texts.RESULT_BUTTON_UNKNOWN()
    assert len(eden.calls) == 2


async def test_the_larger_button_edits_the_result_itself_at_the_models_largest_size(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(GROUP_COOLDOWN_SECONDS="0", DEFAULT_ASPECT_RATIO="16:9")
    first = await _result_in_group(telegram, "a harbour at night")

    await _tap(telegram, first.result, _keyboard(first)["⬆ 4K"], BOB)
    larger = (await telegram.wait_for("sendPhoto", GROUP, count=2))[1]
    body = eden.calls[1].body
    # The delivered picture itself is the input, at 4K, with the order to keep it as it is.
    assert _images(body) == [first.files["photo"]]
    assert _prompt(body) == ENLARGE_INSTRUCTION
    assert body["image_config"] == {"aspect_ratio": "16:9", "image_size": "4K"}
    assert larger.params["caption"].startswith("a harbour at night\n\n16:9 · 4K · 5504×3072")
    assert larger.files["photo"] == eden.last_image
    # 4K is the largest: no ⬆ under it.
    assert list(_keyboard(larger)) == ["🔁 Again", "×4", "Ratio…", "More…"]
    assert await _settled(tmp_path, 2) == [(ALICE, GROUP, "ok", 1), (BOB, GROUP, "ok", 1)]


async def test_expired_unknown_and_forged_buttons_are_answered_and_run_nothing(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(REQUEST_RETENTION_DAYS="3")
    asked = await telegram.send(text_message(ALICE, "a windmill"))
    first = await telegram.reply_to(asked)
    again = _keyboard(first)["🔁 Again"]
    await _settled(tmp_path, 1)

    job_id = again.rsplit("|", 1)[1]
    for data in (f"res|a|{int(job_id) + 50}", "res|zz|1", "res|a|x", "res|a|" + "9" * 40):
        answer = await _tap(telegram, first.result, data, ALICE)
        assert answer.params["text"] == texts.RESULT_BUTTON_UNKNOWN()
    # A real job id, but from another chat: its prompt is not someone else's to rerun.
    elsewhere = {**first.result, "chat": chat(BOB)}
    assert (await _tap(telegram, elsewhere, again, BOB)).params["text"] == (
        texts.RESULT_BUTTON_UNKNOWN()
    )
    _age(tmp_path, 4)
    expired = await _tap(telegram, first.result, again, ALICE)
    assert expired.params["text"] == texts.result_button_expired(3)
    assert len(eden.calls) == 1
    assert len(telegram.sent("sendPhoto")) == 1


async def test_an_unlisted_user_pressing_a_button_in_a_group_is_refused(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(ALLOW_EVERYONE="false", ALLOWED_USER_IDS=f"{ALICE}")
    first = await _result_in_group(telegram, "a tower")
    for _ in range(2):  # told every time: only the presser sees the answer
        refused = await _tap(telegram, first.result, _keyboard(first)["🔁 Again"], BOB)
        assert refused.params["text"] == texts.access_refused(BOB)
        assert refused.params["show_alert"] == "true"
    assert len(eden.calls) == 1
    assert await _settled(tmp_path, 1) == [(ALICE, GROUP, "ok", 1)]


async def test_stored_requests_are_cleared_after_their_retention_and_their_ledger_stays(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    bot = await start_bot(LOG_PROMPTS="true")
    old = await telegram.send(text_message(ALICE, "an old request"))
    await telegram.reply_to(old)
    await _settled(tmp_path, 1)
    await bot.stop()
    # Kept past the job's end, even without LOG_PROMPTS: the buttons need it.
    [(prompt, file_id)] = rows(tmp_path, "SELECT job_prompt, result_file_id FROM requests")
    assert (prompt, file_id is not None) == ("an old request", True)
    _age(tmp_path, 8)

    await start_bot(LOG_PROMPTS="true")
    recent = await telegram.send(text_message(ALICE, "a recent request"))
    await telegram.reply_to(recent)
    await _settled(tmp_path, 2)

    def stored() -> list[tuple[Any, ...]]:
        return rows(
            tmp_path,
            "SELECT job_prompt, file_ids, result_file_id IS NOT NULL, prompt, outcome "
            "FROM requests ORDER BY id",
        )

    for _ in range(50):
        if stored()[0][0] is None:
            break
        await asyncio.sleep(0.1)
    assert stored() == [
        (None, None, False, "an old request", "ok"),  # LOG_PROMPTS keeps the ledger's copy
        ("a recent request", "[]", True, "a recent request", "ok"),
    ]
