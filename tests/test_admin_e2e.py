"""Operating the bot from Telegram, through the real bot process: admin commands and their
audit, group budgets, and the /stats chart."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from bot.ops.chart import HEIGHT, WIDTH
from tests.conftest import StartBot
from tests.fakes.database import rows
from tests.fakes.eden import FakeEden
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram, text_message

ALICE, BOB, CAROL, ADMIN = 2001, 2002, 2003, 2009
CLUB = -100700


def _audit(tmp_path: Path) -> list[tuple[Any, ...]]:
    return rows(tmp_path, "SELECT admin_id, action, subject_id, value FROM audit ORDER BY id")


async def test_admins_let_people_in_and_out_without_a_restart(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    bot = await start_bot(
        ALLOW_EVERYONE="false", ALLOWED_USER_IDS=f"{ALICE}", ADMIN_USER_IDS=f"{ADMIN}"
    )
    assert "private" in await telegram.ask(text_message(BOB, "a stranger's picture"))

    # A user who may draw is still no admin.
    refusal = await telegram.ask(text_message(ALICE, f"/allow {BOB}"))
    assert refusal == "That command is for the bot's administrators."

    assert await telegram.ask(text_message(ADMIN, f"/allow {BOB}")) == (
        f"Done: user {BOB} is let in."
    )
    assert (await telegram.answer(text_message(BOB, "now a fox"))).method == "sendPhoto"

    assert await telegram.ask(text_message(ADMIN, f"/deny {BOB}")) == (
        f"Done: user {BOB} is kept out."
    )
    assert "private" in await telegram.ask(text_message(BOB, "another fox"))
    # A denial wins over ALLOWED_USER_IDS, and an admin can be named by replying to them.
    alices = await telegram.send(text_message(ALICE, "hello"))
    await telegram.reply_to(alices)
    reply = text_message(ADMIN, "/deny", reply_to=alices)
    assert await telegram.ask(reply) == f"Done: user {ALICE} is kept out."
    assert "private" in await telegram.ask(text_message(ALICE, "a cat"))
    # Admins from .env cannot be shut out from Telegram.
    assert "ADMIN_USER_IDS" in await telegram.ask(text_message(ADMIN, f"/deny {ADMIN}"))
    assert len(eden.calls) == 2  # Alice's "hello", Bob's fox

    overview = await telegram.ask(text_message(ADMIN, "/admin"))
    assert f"Denied: {ALICE}, {BOB}" in overview
    assert f"by {ADMIN}: deny {ALICE}" in overview
    assert f"by {ADMIN}: allow {BOB}" in overview
    # Kept across a restart.
    await bot.stop()
    await start_bot(ALLOW_EVERYONE="false", ALLOWED_USER_IDS=f"{ALICE}", ADMIN_USER_IDS=f"{ADMIN}")
    await telegram.send(text_message(ALICE, "after the restart"))
    assert (await telegram.answer(text_message(ADMIN, "a wolf"))).method == "sendPhoto"
    assert len(eden.calls) == 3
    assert _audit(tmp_path) == [
        (ADMIN, "allow", BOB, ""),
        (ADMIN, "deny", BOB, ""),
        (ADMIN, "deny", ALICE, ""),
    ]


async def test_a_bare_command_in_a_forum_topic_is_about_no_one(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(ADMIN_USER_IDS=f"{ADMIN}")
    # Telegram makes every message in a topic a reply to the topic's creation, by its creator.
    created = text_message(CLUB, "", user_id=BOB)
    del created["text"]
    created |= {"message_id": 77, "date": 1_700_000_000}
    created["forum_topic_created"] = {"name": "Art", "icon_color": 7322096}
    command = text_message(CLUB, "/deny", user_id=ADMIN, reply_to=created)
    command |= {"message_thread_id": 77, "is_topic_message": True}
    assert await telegram.ask(command) == (
        "Whom? Give a user id (a chat's is negative), or reply to their message."
    )
    assert _audit(tmp_path) == []
    assert (await telegram.answer(text_message(BOB, "still here"))).method == "sendPhoto"


async def test_a_reply_names_a_user_never_a_whole_chat(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(ALLOW_EVERYONE="false", ADMIN_USER_IDS=f"{ADMIN}")
    anonymous = text_message(CLUB, "hello")
    anonymous["from"] = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    anonymous["sender_chat"] = {"id": CLUB, "type": "supergroup", "title": "Club"}
    await telegram.send(anonymous)
    reply = await telegram.ask(text_message(CLUB, "/allow", user_id=ADMIN, reply_to=anonymous))
    assert reply == (
        "That message was sent on behalf of a chat, not by a user. To change what the whole "
        f"chat may do, give its id after the command: {CLUB}"
    )
    assert _audit(tmp_path) == []
    # Named by its id, the chat is let in.
    assert await telegram.ask(text_message(ADMIN, f"/allow {CLUB}")) == (
        f"Done: chat {CLUB} is let in."
    )


async def test_quota_and_budget_overrides_take_precedence_over_env(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(USER_DAILY_IMAGES="5", ADMIN_USER_IDS=f"{ADMIN}")
    assert await telegram.ask(text_message(ADMIN, f"/quota {ALICE} 1")) == (
        f"Done: user {ALICE} now has 1 image a day."
    )
    assert (await telegram.answer(text_message(ALICE, "one"))).method == "sendPhoto"
    refusal = await telegram.ask(text_message(ALICE, "two"))
    assert refusal.startswith("You've used all 1 of today's images.")
    assert (await telegram.ask(text_message(ALICE, "/usage"))).endswith("Left today: 0 of 1 image")
    assert "not a valid number" in await telegram.ask(text_message(ADMIN, f"/quota {ALICE} x"))
    assert await telegram.ask(text_message(ADMIN, "/quota")) == (
        "Whom? Give a user id (a chat's is negative), or reply to their message."
    )
    await telegram.ask(text_message(ADMIN, f"/quota {ALICE} 0"))
    await telegram.ask(text_message(ADMIN, f"/budget {ALICE} 0.05"))
    refusal = await telegram.ask(text_message(ALICE, "three"))
    assert refusal.startswith("You've used this month's budget of $0.05 (spent $0.07).")
    assert len(eden.calls) == 1
    assert _audit(tmp_path) == [
        (ADMIN, "quota", ALICE, "1"),
        (ADMIN, "quota", ALICE, "0"),
        (ADMIN, "budget", ALICE, "0.05"),
    ]


async def test_a_group_budget_stops_the_group_and_no_one_else(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    # 3.1 Flash: its list price at 1K is the fake's reported cost ($0.067), so "two" spends the
    # same whether its line is closed or it still counts at its estimate when "three" arrives.
    await start_bot(
        GROUP_MONTHLY_BUDGET_USD="0.15",
        GROUP_COOLDOWN_SECONDS="0",
        ADMIN_USER_IDS=f"{ADMIN}",
        EDENAI_MODEL="google/gemini-3.1-flash-image",
    )

    def in_club(user_id: int, prompt: str) -> dict[str, Any]:
        return text_message(CLUB, f"@{BOT_USERNAME} {prompt}", user_id=user_id)

    assert (await telegram.answer(in_club(ALICE, "one"))).method == "sendPhoto"
    assert (await telegram.answer(in_club(BOB, "two"))).method == "sendPhoto"
    refusal = await telegram.ask(in_club(CAROL, "three"))
    assert refusal.startswith(
        "This group has used its budget of $0.15 for this month (spent $0.13), so I can't draw "
        "more here until 1 "
    )
    # Its members are still served elsewhere.
    assert (await telegram.answer(text_message(CAROL, "in private"))).method == "sendPhoto"
    # An admin raises this group's budget from Telegram.
    assert await telegram.ask(text_message(ADMIN, f"/budget {CLUB} 1")) == (
        f"Done: chat {CLUB} now has a budget of $1.00 a month."
    )
    assert (await telegram.answer(in_club(CAROL, "four"))).method == "sendPhoto"
    assert len(eden.calls) == 4


async def test_stats_answers_with_a_chart(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_json({"error": {"message": "boom"}}, status=500)
    await start_bot(ADMIN_USER_IDS=f"{ADMIN}")
    await telegram.answer(text_message(ALICE, "fails"))
    await telegram.answer(text_message(ALICE, "one"))
    request = await telegram.send(text_message(ADMIN, "/stats"))
    summary = await telegram.reply_to(request)
    assert summary.params["text"].startswith("Last 7 days (UTC)")
    [chart] = await telegram.wait_for("sendPhoto", chat_id=ADMIN)
    assert chart.reply_to == request["message_id"]
    assert chart.params["caption"] == "Usage over the last 30 days (UTC)"
    image = Image.open(io.BytesIO(chart.files["photo"]))
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT)
    # Not a blank canvas: the bars and labels are drawn.
    assert len(image.convert("RGB").getcolors(maxcolors=100_000) or []) > 3
