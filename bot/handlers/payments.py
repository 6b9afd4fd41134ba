"""Telegram Stars: /buy and its pack buttons (an invoice in XTR), the pre-checkout answer, the
successful payment (credited once per charge id), /paysupport, and an admin's /refund."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Update
from telegram.error import TelegramError

from bot import credits, texts
from bot.handlers.admin import admin_message
from bot.services import BotContext
from bot.storage import Payment

log = logging.getLogger(__name__)

BUY_PREFIX = "buy"


def _button_data(images: int, stars: int) -> str:
    return f"{BUY_PREFIX}|{images}:{stars}"


async def buy_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    offers = context.services.settings.stars.offers
    if not offers:
        await message.reply_text(texts.NOT_SELLING())
        return
    buttons = [
        [InlineKeyboardButton(texts.pack_label(p), callback_data=_button_data(p.images, p.stars))]
        for p in offers
    ]
    balance = await context.services.storage.credits(user.id)
    await message.reply_text(
        texts.buy_offer(offers, balance), reply_markup=InlineKeyboardMarkup(buttons)
    )


async def buy_button(update: Update, context: BotContext) -> None:
    """A pack's button: `buy|<images>:<stars>`; sends its invoice, if it is still on sale."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    _, _, raw = (query.data or "").partition("|")
    pack = credits.pack_of(f"pack:{raw}")
    if pack is None or pack not in context.services.settings.stars.offers:
        await query.answer(texts.PACK_GONE(), show_alert=True)
        return
    await query.answer()
    # Stars need no payment provider token: Telegram is the provider.
    await context.bot.send_invoice(
        chat_id=query.message.chat.id,
        title=texts.invoice_title(pack),
        description=texts.invoice_description(pack),
        payload=credits.payload(pack),
        currency=credits.CURRENCY,
        prices=[LabeledPrice(texts.invoice_title(pack), pack.stars)],
    )


async def pre_checkout(update: Update, context: BotContext) -> None:
    """Telegram's last question before it takes the Stars: is this pack still sold at this
    price, to this user? It must be answered within 10 seconds, or the payment fails."""
    query = update.pre_checkout_query
    if query is None:
        return
    services = context.services
    pack = credits.on_sale(
        query.invoice_payload, query.currency, query.total_amount, services.settings.stars.offers
    )
    allowed = await services.doorkeeper.allows(context.bot, query.from_user.id, None)
    if pack is None or not allowed:
        log.info("pre-checkout refused: %s from user %s", query.invoice_payload, query.from_user.id)
        await query.answer(ok=False, error_message=texts.PAYMENT_REFUSED())
        return
    await query.answer(ok=True)


async def successful_payment(update: Update, context: BotContext) -> None:
    """The Stars are taken: credit the pack, once per charge id however often this arrives."""
    message = update.effective_message
    if message is None or message.successful_payment is None or message.from_user is None:
        return
    paid = message.successful_payment
    user_id = message.from_user.id
    pack = credits.pack_of(paid.invoice_payload)
    if pack is None:
        # Only this bot's invoices can be paid to it; this one was not made by this version.
        log.error(
            "payment %s from user %s has an unknown payload %r: not credited, refund it with "
            "/refund",
            paid.telegram_payment_charge_id,
            user_id,
            paid.invoice_payload,
        )
        await message.reply_text(texts.PAYSUPPORT())
        return
    storage = context.services.storage
    payment = Payment(paid.telegram_payment_charge_id, user_id, pack.images, paid.total_amount)
    new = await storage.add_payment(payment)
    balance = await storage.credits(user_id)
    log.info(
        "payment %s from user %s: %d stars for %d images%s",
        payment.charge_id,
        user_id,
        payment.stars,
        payment.credits,
        "" if new else " (already counted)",
    )
    if new:
        await message.reply_text(texts.payment_received(pack.images, balance))
    else:
        await message.reply_text(texts.payment_already_counted(balance))


async def paysupport_command(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(texts.PAYSUPPORT())


async def refund_command(update: Update, context: BotContext) -> None:
    """Admins: refund a payment's Stars and take back what is left of its credits."""
    found = await admin_message(update, context)
    if found is None:
        return
    message, admin = found
    args = context.args or []
    if len(args) != 1:
        await message.reply_text(texts.REFUND_USAGE())
        return
    storage = context.services.storage
    payment = await storage.payment(args[0])
    if payment is None:
        await message.reply_text(texts.REFUND_UNKNOWN())
        return
    if payment.refunded:
        await message.reply_text(texts.REFUND_ALREADY())
        return
    try:
        await context.bot.refund_star_payment(payment.user_id, payment.charge_id)
    except TelegramError as exc:
        log.warning("refund of %s refused by Telegram: %s", payment.charge_id, exc)
        await message.reply_text(texts.refund_failed(exc.message))
        return
    await storage.refund_payment(payment.charge_id)
    await storage.audit(admin, "refund", payment.user_id, payment.charge_id)
    await message.reply_text(texts.refunded(payment, await storage.credits(payment.user_id)))
