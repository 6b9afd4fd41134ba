"""Access lists, quotas, flood guards and the ledger, through the real bot process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StartBot
from tests.fakes.database import rows
from tests.fakes.eden import FakeEden, chat_reply, data_url
from tests.fakes.images import png
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram, text_message

ALICE, BOB, ADMIN = 1001, 1002, 1003
CLUB = -100500


async def _draw(
    telegram: FakeTelegram, chat_id: int, prompt: str, user_id: int | None = None
) -> str:
    """Send a prompt; the method of the bot's answer (sendPhoto on success)."""
    reply = await telegram.answer(text_message(chat_id, prompt, user_id))
    return reply.method


def _ledger(tmp_path: Path) -> list[tuple[Any, ...]]:
    return rows(
        tmp_path,
        "SELECT user_id, kind, outcome, cost_usd, cost_estimated, prompt FROM requests ORDER BY id",
    )


# ---- access ----------------------------------------------------------------------------------
async def test_an_unlisted_user_is_refused_once_and_costs_nothing(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(ALLOWED_USER_IDS=f"{ALICE}")
    refusal = await telegram.ask(text_message(BOB, "a free picture please"))
    assert "private" in refusal
    assert str(BOB) in refusal
    # Asking again is not answered again (no spam), and nothing reaches Eden.
    await telegram.send(text_message(BOB, "/ratio 16:9"))
    assert await _draw(telegram, ALICE, "a fox") == "sendPhoto"
    assert len(telegram.sent("sendMessage", BOB)) == 1
    assert len(eden.calls) == 1


async def test_listed_users_and_admins_are_let_in(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    bot = await start_bot(ALLOWED_USER_IDS=f"{ALICE}, 4", ADMIN_USER_IDS=f"{ADMIN}")
    assert await _draw(telegram, ALICE, "a fox") == "sendPhoto"
    assert await _draw(telegram, ADMIN, "a wolf") == "sendPhoto"
    assert "the bot is open" not in bot.output.lower()
    assert "anyone who finds this bot" not in bot.output


async def test_members_of_a_listed_chat_are_let_in_there_and_in_private(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.members[CLUB] = {ALICE}
    await start_bot(ALLOWED_CHAT_IDS=f"{CLUB}", GROUP_COOLDOWN_SECONDS="0")
    in_club = text_message(CLUB, f"@{BOT_USERNAME} a club banner", user_id=BOB)
    assert (await telegram.answer(in_club)).method == "sendPhoto"
    assert await _draw(telegram, ALICE, "a private picture") == "sendPhoto"
    # Bob wrote in the club, but is not one of its members: not in private.
    assert "private" in await telegram.ask(text_message(BOB, "me too"))
    assert len(eden.calls) == 2


async def test_an_open_bot_warns_the_operator(start_bot: StartBot, telegram: FakeTelegram) -> None:
    bot = await start_bot(ALLOW_EVERYONE="true", USER_DAILY_IMAGES=None)
    await telegram.wait_for("setMyCommands")
    await bot.stop()
    assert "anyone who finds this bot can use it" in bot.output
    assert "non-admins have 20 images a day" in bot.output


# ---- quotas ----------------------------------------------------------------------------------
async def test_the_daily_limit_and_failed_requests_not_counting(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.then_json({"error": {"message": "boom"}}, status=500)
    bot = await start_bot(USER_DAILY_IMAGES="2")
    assert await _draw(telegram, ALICE, "one") == "sendMessage"  # the failure: not counted
    assert await _draw(telegram, ALICE, "two") == "sendPhoto"
    assert await _draw(telegram, ALICE, "three") == "sendPhoto"
    refusal = await telegram.ask(text_message(ALICE, "four"))
    assert refusal.startswith("You've used all 2 of today's images. The limit resets at ")
    assert "00:00 UTC (in " in refusal
    assert len(eden.calls) == 3
    # Other users have their own allowance.
    assert await _draw(telegram, BOB, "bob's first") == "sendPhoto"
    await bot.stop()
    outcomes = [row[2] for row in _ledger(tmp_path)]
    assert outcomes == ["provider_error", "ok", "ok", "ok"]


async def test_admins_are_exempt_from_quotas(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(USER_DAILY_IMAGES="1", ADMIN_USER_IDS=f"{ADMIN}")
    for prompt in ("a", "b", "c"):
        assert await _draw(telegram, ADMIN, prompt) == "sendPhoto"


@pytest.mark.parametrize("reported", [True, False], ids=["upstream-cost", "estimated"])
async def test_the_monthly_budget(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path, reported: bool
) -> None:
    if not reported:
        for _ in range(3):
            # No `cost`: 1K on 3.1 Flash is estimated at its list price, $0.067 (the fake's
            # reported cost, so that both variants spend alike).
            eden.then_json(chat_reply(data_url(png(1024, 1024))))
    bot = await start_bot(
        USER_MONTHLY_BUDGET_USD="0.15", EDENAI_MODEL="google/gemini-3.1-flash-image"
    )
    assert await _draw(telegram, ALICE, "one") == "sendPhoto"
    assert await _draw(telegram, ALICE, "two") == "sendPhoto"
    # $0.134 spent is under $0.15, but a third picture's $0.067 would take it past.
    refusal = await telegram.ask(text_message(ALICE, "three"))
    assert refusal.startswith("You've used this month's budget of $0.15 (spent $0.13).")
    next_month = (datetime.now(UTC).replace(day=28) + timedelta(days=4)).strftime("%B")
    assert f"It resets on 1 {next_month} 00:00 UTC (in " in refusal
    usage = await telegram.ask(text_message(ALICE, "/usage"))
    assert "This month: 2 images, $0.134" in usage
    assert ("(partly estimated)" in usage) is not reported
    assert "Left this month: $0.02 of $0.15" in usage
    await bot.stop()
    assert [row[3:5] for row in _ledger(tmp_path)] == [(0.067, int(not reported))] * 2


# ---- flood guard -----------------------------------------------------------------------------
async def test_requests_in_flight_per_user(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_hang(2)
    await start_bot(USER_MAX_IN_FLIGHT="1")
    slow = await telegram.send(text_message(ALICE, "a slow one"))
    await eden.wait_for_calls(1)
    busy = await telegram.ask(text_message(ALICE, "an impatient one"))
    assert busy == "You already have a picture in progress. Send this again when it's done."
    assert await _draw(telegram, BOB, "someone else's") == "sendPhoto"
    assert (await telegram.reply_to(slow)).method == "sendPhoto"
    assert await _draw(telegram, ALICE, "after it finished") == "sendPhoto"


async def test_group_cooldown(start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden) -> None:
    await start_bot(GROUP_COOLDOWN_SECONDS="30")
    first = text_message(CLUB, f"@{BOT_USERNAME} one", user_id=ALICE)
    assert (await telegram.answer(first)).method == "sendPhoto"
    second = text_message(CLUB, f"@{BOT_USERNAME} two", user_id=ALICE)
    text = await telegram.ask(second)
    assert text.startswith("Please wait ")
    assert "before your next picture here" in text
    other = text_message(CLUB, f"@{BOT_USERNAME} three", user_id=BOB)
    assert (await telegram.answer(other)).method == "sendPhoto"
    assert await _draw(telegram, ALICE, "in private no cooldown") == "sendPhoto"
    assert len(eden.calls) == 3


# ---- accounting ------------------------------------------------------------------------------
async def test_the_ledger_keeps_no_prompts_unless_asked(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    bot = await start_bot()
    await _draw(telegram, ALICE, "a secret garden")
    await bot.stop()
    [(user_id, kind, outcome, cost, estimated, prompt)] = _ledger(tmp_path)
    assert (user_id, kind, outcome, cost, estimated, prompt) == (
        ALICE,
        "generate",
        "ok",
        0.067,
        0,
        None,
    )
    bot = await start_bot(LOG_PROMPTS="true")
    await _draw(telegram, ALICE, "a public garden")
    await bot.stop()
    assert _ledger(tmp_path)[-1][5] == "a public garden"


async def test_usage_and_stats(start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden) -> None:
    eden.then_json({"detail": "slow down", "error_code": "RATE_LIMITED"}, status=429)
    await start_bot(ADMIN_USER_IDS=f"{ADMIN}", USER_DAILY_IMAGES="5")
    await _draw(telegram, ALICE, "fails")
    await _draw(telegram, ALICE, "one")
    await _draw(telegram, ALICE, "two")
    await _draw(telegram, BOB, "three")

    usage = await telegram.ask(text_message(ALICE, "/usage"))
    assert "Today: 2 images, $0.134" in usage
    assert "Left today: 3 of 5 images" in usage

    assert await telegram.ask(text_message(ALICE, "/stats")) == (
        "That command is for the bot's administrators."
    )
    stats = await telegram.ask(text_message(ADMIN, "/stats"))
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert f"{today}: 3 ok, 1 failed, $0.20" in stats
    assert f"{ALICE}: 2 images, $0.13" in stats
    assert f"{BOB}: 1 image, $0.07" in stats
    assert stats.index(str(ALICE)) < stats.index(str(BOB))
    assert "rate_limited: 1" in stats


async def test_concurrent_requests_cannot_overrun_the_daily_limit(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(USER_DAILY_IMAGES="1", USER_MAX_IN_FLIGHT="5")
    messages = [await telegram.send(text_message(ALICE, f"burst {i}")) for i in range(4)]
    replies = await asyncio.gather(*(telegram.reply_to(m) for m in messages))
    assert sorted(r.method for r in replies) == ["sendMessage"] * 3 + ["sendPhoto"]
    assert len(eden.calls) == 1
