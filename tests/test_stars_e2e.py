"""Selling image credits for Telegram Stars, through the real bot process: the invoice, the
pre-checkout answer, a payment credited once, a failed picture giving its credit back, a
refund; a payment the database refuses, kept and credited later; Telegram's own refunds."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import StartBot
from tests.fakes.database import rows, sqlite_path
from tests.fakes.eden import FakeEden
from tests.fakes.telegram import FakeTelegram, text_message

ALICE, ADMIN = 3001, 3009


def _ledger(tmp_path: Path) -> list[tuple[str, str]]:
    return rows(tmp_path, "SELECT outcome, funding FROM requests ORDER BY id")


async def _closed(tmp_path: Path, count: int) -> list[tuple[str, str]]:
    """The ledger once its first `count` lines are closed (each is closed just after its answer
    went out), or as it is after a few seconds."""
    for _ in range(50):
        rows = _ledger(tmp_path)
        if len(rows) >= count and all(o not in ("queued", "running") for o, _ in rows[:count]):
            break
        await asyncio.sleep(0.1)
    return rows


async def test_stars_buy_credits_once_and_a_failure_gives_its_credit_back(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(STARS_PACKS="2:50, 10:200", USER_DAILY_IMAGES="1", ADMIN_USER_IDS=f"{ADMIN}")
    [commands] = await telegram.wait_for("setMyCommands")
    assert "paysupport" in [c["command"] for c in commands.params["commands"]]

    assert (await telegram.answer(text_message(ALICE, "free one"))).method == "sendPhoto"
    refusal = await telegram.ask(text_message(ALICE, "another"))
    assert refusal.endswith("You can buy more images with Telegram Stars: /buy")

    # /buy: the packs, as buttons; a tap sends the invoice, in Stars, with no provider token.
    offer = await telegram.answer(text_message(ALICE, "/buy"))
    assert "2 images for 50 ⭐" in offer.params["text"]
    buttons = [row[0] for row in offer.params["reply_markup"]["inline_keyboard"]]
    assert [b["callback_data"] for b in buttons] == ["buy|2:50", "buy|10:200"]
    await telegram.press(offer.result, "buy|2:50", ALICE)
    [invoice] = await telegram.wait_for("sendInvoice")
    assert invoice.chat_id == ALICE
    assert invoice.params["currency"] == "XTR"
    assert invoice.params["payload"] == "pack:2:50"
    assert invoice.params["prices"] == [{"label": "2 images", "amount": 50}]
    assert "provider_token" not in invoice.params
    # A forged or stale button sends none.
    await telegram.press(offer.result, "buy|2:1", ALICE)

    # Pre-checkout: yes for the pack at its price, no for anything else.
    good = await telegram.pre_checkout(ALICE, "pack:2:50", 50)
    bad = await telegram.pre_checkout(ALICE, "pack:2:1", 1)
    answers = await telegram.wait_for("answerPreCheckoutQuery", count=2)
    by_id = {a.params["pre_checkout_query_id"]: a.params for a in answers}
    assert by_id[good]["ok"] == "true"
    assert by_id[bad]["ok"] == "false"
    assert "no longer on sale" in by_id[bad]["error_message"]
    assert len(telegram.sent("sendInvoice")) == 1

    # The payment arrives twice with the same charge id: credited once.
    first = await telegram.paid(ALICE, "pack:2:50", 50, "charge-1")
    assert (await telegram.reply_to(first)).params["text"] == (
        "Thank you! 2 images added; you now have 2."
    )
    again = await telegram.paid(ALICE, "pack:2:50", 50, "charge-1")
    assert "already counted; you have 2" in (await telegram.reply_to(again)).params["text"]
    assert "Bought credits: 2 images" in await telegram.ask(text_message(ALICE, "/usage"))

    # A failed picture takes a credit and gives it back; a delivered one keeps it.
    eden.then_json({"error": {"message": "boom"}}, status=500)
    assert (await telegram.answer(text_message(ALICE, "fails"))).method == "sendMessage"
    await _closed(tmp_path, 2)
    assert (await telegram.answer(text_message(ALICE, "paid one"))).method == "sendPhoto"
    assert [f for _, f in await _closed(tmp_path, 4)] == ["free", "credit", "credit"]
    assert "Bought credits: 1 image " in await telegram.ask(text_message(ALICE, "/usage"))

    # An admin refunds the payment: the Stars go back, and so do the credits left.
    assert (await telegram.ask(text_message(ALICE, "/refund charge-1"))).endswith("administrators.")
    refunded = await telegram.ask(text_message(ADMIN, "/refund charge-1"))
    assert refunded == f"Refunded 50 ⭐ to user {ALICE}; their bought images: 0."
    [refund] = telegram.sent("refundStarPayment")
    assert refund.params == {"user_id": str(ALICE), "telegram_payment_charge_id": "charge-1"}
    assert await telegram.ask(text_message(ADMIN, "/refund charge-1")) == (
        "That payment was already refunded."
    )
    assert (await telegram.ask(text_message(ALICE, "more"))).startswith("You've used all 1")
    assert len(eden.calls) == 3

    support = await telegram.ask(text_message(ALICE, "/paysupport"))
    assert support.startswith("Help with a payment")


async def test_a_bot_that_sells_nothing_says_so(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot()
    assert await telegram.ask(text_message(ALICE, "/buy")) == "This bot doesn't sell images."
    [commands] = await telegram.wait_for("setMyCommands")
    assert "buy" not in [c["command"] for c in commands.params["commands"]]


def _balance(tmp_path: Path, user_id: int) -> int:
    found = rows(tmp_path, "SELECT balance FROM credits WHERE user_id = ?", user_id)
    return int(found[0][0]) if found else 0


@pytest.mark.sqlite_only
async def test_a_payment_the_database_refuses_is_kept_then_credited_or_refunded(
    start_bot: StartBot, telegram: FakeTelegram, tmp_path: Path
) -> None:
    settings = {"STARS_PACKS": "2:50", "ADMIN_USER_IDS": f"{ADMIN}"}
    bot = await start_bot(**settings)
    await telegram.wait_for("setMyCommands")
    with sqlite3.connect(sqlite_path(tmp_path)) as db:
        db.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON payments "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )

    # The Stars are taken, the database refuses the payment: the payer is told it is safe.
    kept = await telegram.paid(ALICE, "pack:2:50", 50, "charge-kept")
    assert (await telegram.reply_to(kept)).params["text"] == (
        "Your payment is safe, but I couldn't add your images just now. They will be added "
        "automatically, and I'll tell you when. If they aren't, send /paysupport and give this "
        "charge id: charge-kept"
    )
    await telegram.reply_to(await telegram.paid(ALICE, "pack:2:50", 50, "charge-back"))
    # Paid for an invoice this version did not make: recorded nowhere but in the log.
    await telegram.reply_to(await telegram.paid(ALICE, "pack:old", 30, "charge-stray"))
    overview = await telegram.ask(text_message(ADMIN, "/admin"))
    assert f"charge-kept: {ALICE}, 50 ⭐\n  charge-back: {ALICE}, 50 ⭐" in overview

    # /refund finds a kept payment's payer; one recorded nowhere needs the payer's id.
    assert await telegram.ask(text_message(ADMIN, "/refund charge-back")) == (
        f"Refunded 50 ⭐ to user {ALICE}; their bought images: 0."
    )
    unknown = await telegram.ask(text_message(ADMIN, "/refund charge-stray"))
    assert unknown.startswith("I have no payment with that charge id.\nUsage:")
    assert await telegram.ask(text_message(ADMIN, f"/refund {ALICE} charge-stray")) == (
        f"Refunded payment charge-stray to user {ALICE}; it was never credited. "
        "Their bought images: 0."
    )
    refunds = [c.params for c in telegram.sent("refundStarPayment")]
    assert refunds == [
        {"user_id": str(ALICE), "telegram_payment_charge_id": "charge-back"},
        {"user_id": str(ALICE), "telegram_payment_charge_id": "charge-stray"},
    ]
    assert f"charge-back: {ALICE}" not in await telegram.ask(text_message(ADMIN, "/admin"))
    await bot.stop()
    # The log has each payment, written before the database was asked.
    assert f"payment charge-kept from user {ALICE}: 50 XTR for 'pack:2:50'" in bot.output
    assert f"payment charge-stray from user {ALICE}: 30 XTR for 'pack:old'" in bot.output
    assert _balance(tmp_path, ALICE) == 0

    # The database takes writes again: the next start credits the kept payment and says so;
    # the refunded one is never credited, and no later start credits anything twice.
    with sqlite3.connect(sqlite_path(tmp_path)) as db:
        db.execute("DROP TRIGGER disk_full")
    for _ in range(2):
        again = await start_bot(**settings)
        await again.wait_for_output("Application started")  # after the kept payments
        await again.stop()
    thanks = [c.params["text"] for c in telegram.sent("sendMessage", ALICE) if not c.reply_to]
    assert thanks == ["Thank you! 2 images added; you now have 2."]
    assert _balance(tmp_path, ALICE) == 2
    assert rows(tmp_path, "SELECT charge_id, refunded_at IS NULL FROM payments") == [
        ("charge-kept", 1)
    ]


async def test_telegrams_own_refund_takes_back_what_is_left_of_that_payment(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    bot = await start_bot(STARS_PACKS="3:60", USER_DAILY_IMAGES="1")
    for charge in ("charge-a", "charge-b"):
        await telegram.reply_to(await telegram.paid(ALICE, "pack:3:60", 60, charge))
    assert (await telegram.answer(text_message(ALICE, "free one"))).method == "sendPhoto"
    assert (await telegram.answer(text_message(ALICE, "paid one"))).method == "sendPhoto"
    await _closed(tmp_path, 2)
    assert _balance(tmp_path, ALICE) == 5

    # Telegram refunds charge-a (its support, a dispute), and says so twice.
    for _ in range(2):
        await telegram.refunded(ALICE, "pack:3:60", 60, "charge-a")
    for _ in range(100):
        if bot.output.count("payment charge-a of chat") == 2:
            break
        await asyncio.sleep(0.1)
    assert _balance(tmp_path, ALICE) == 2
    refunded = rows(tmp_path, "SELECT charge_id FROM payments WHERE refunded_at IS NOT NULL")
    assert refunded == [("charge-a",)]
    assert telegram.sent("refundStarPayment") == []
