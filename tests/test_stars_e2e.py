"""Selling image credits for Telegram Stars, through the real bot process: the invoice, the
pre-checkout answer, a payment credited once, a failed picture giving its credit back, a
refund."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import StartBot
from tests.fakes.database import rows
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
