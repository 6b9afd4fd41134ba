"""Telegram Stars: /buy and its pack buttons (an invoice in XTR), the pre-checkout answer, the
successful payment (credited once per charge id, never lost), /paysupport, an admin's /refund,
and Telegram's own refunds."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Update
from telegram.error import TelegramError

from bot import credits, i18n, texts
from bot.config import StarPack
from bot.store.storage import Payment, Storage, database_failure
from bot.store.unrecorded import KeptPayment, UnrecordedPayments, write_retrying
from bot.telegram.callbacks import CallbackData
from bot.telegram.handlers.admin import admin_message, parse_id
from bot.telegram.services import BotContext

log = logging.getLogger(__name__)

# What a pack's invoice payload has before the pack itself (bot/credits.py).
_PACK = "pack:"


@dataclass(frozen=True, slots=True)
class BuyButton(CallbackData, prefix="buy"):
    """A pack's button under /buy: the pack offered, as its invoice names it
    (`<images>:<stars>`)."""

    offer: str

    def __post_init__(self) -> None:
        if self.star_pack is None:
            raise ValueError(f"no pack {self.offer!r}")

    @classmethod
    def of(cls, pack: StarPack) -> Self:
        return cls(credits.payload(pack).removeprefix(_PACK))

    @property
    def star_pack(self) -> StarPack | None:
        return credits.pack_of(_PACK + self.offer)


async def buy_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    offers = context.services.settings.stars.offers
    if not offers:
        await message.reply_text(texts.NOT_SELLING())
        return
    buttons = [
        [InlineKeyboardButton(texts.pack_label(p), callback_data=BuyButton.of(p).pack())]
        for p in offers
    ]
    balance = await context.services.storage.credits(user.id)
    await message.reply_text(
        texts.buy_offer(offers, balance), reply_markup=InlineKeyboardMarkup(buttons)
    )


async def buy_button(update: Update, context: BotContext) -> None:
    """A pack's button: sends its invoice, if it is still on sale."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    button = BuyButton.unpack(query.data)
    pack = button.star_pack if button is not None else None
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
    """The Stars are taken: credit the pack, once per charge id however often this arrives. A
    database that refuses the payment is tried again; then the payment is kept in a file under
    DATA_DIR, credited at the next start, and its payer told that it is safe."""
    message = update.effective_message
    if message is None or message.successful_payment is None or message.from_user is None:
        return
    paid = message.successful_payment
    user_id = message.from_user.id
    # First of all, the payment in the log: whatever fails next, an operator can find it there.
    log.info(
        "payment %s from user %s: %d %s for %r",
        paid.telegram_payment_charge_id,
        user_id,
        paid.total_amount,
        paid.currency,
        paid.invoice_payload,
    )
    pack = credits.pack_of(paid.invoice_payload)
    if pack is None:
        # Only this bot's invoices can be paid to it; this one was not made by this version.
        log.error(
            "payment %s from user %s has an unknown payload %r: not credited, refund it with "
            "/refund %s %s",
            paid.telegram_payment_charge_id,
            user_id,
            paid.invoice_payload,
            user_id,
            paid.telegram_payment_charge_id,
        )
        await message.reply_text(texts.PAYSUPPORT())
        return
    storage = context.services.storage
    payment = Payment(paid.telegram_payment_charge_id, user_id, pack.images, paid.total_amount)
    try:
        new = await write_retrying(lambda: storage.add_payment(payment))
    except Exception as exc:
        if not database_failure(exc):
            raise
        _keep(context, KeptPayment(payment, paid.invoice_payload, i18n.current().code), exc)
        await message.reply_text(texts.payment_kept(payment.charge_id))
        return
    balance = await storage.credits(user_id)
    log.info(
        "payment %s credited: %d images%s",
        payment.charge_id,
        payment.credits,
        "" if new else " (already counted)",
    )
    if new:
        await message.reply_text(texts.payment_received(pack.images, balance))
    else:
        await message.reply_text(texts.payment_already_counted(balance))


def _keep(context: BotContext, kept: KeptPayment, error: Exception) -> None:
    unrecorded = UnrecordedPayments(context.services.settings.bot.data_dir)
    payment = kept.payment
    try:
        unrecorded.keep(kept)
    except OSError as exc:
        log.critical(
            "payment %s from user %s (%d stars, %d images) is in neither the database (%s) "
            "nor %s (%s): credit it by hand, or refund it with /refund %s %s",
            payment.charge_id,
            payment.user_id,
            payment.stars,
            payment.credits,
            error,
            unrecorded.path,
            exc,
            payment.user_id,
            payment.charge_id,
        )
        return
    log.error(
        "payment %s from user %s not recorded (%s): kept in %s, credited at the next start",
        payment.charge_id,
        payment.user_id,
        error,
        unrecorded.path,
    )


async def credit_kept_payments(bot: Bot, storage: Storage, data_dir: Path) -> None:
    """At start: credit the payments kept while the database refused them, and tell each payer
    (in the language they paid in)."""
    unrecorded = UnrecordedPayments(data_dir)
    for kept in await unrecorded.record(storage):
        payment = kept.payment
        log.info("kept payment %s of user %s credited", payment.charge_id, payment.user_id)
        try:
            balance = await storage.credits(payment.user_id)
            with i18n.speaking(kept.language):
                text = texts.payment_received(payment.credits, balance)
            await bot.send_message(payment.user_id, text)
        except Exception as exc:
            log.warning(
                "could not tell user %s about payment %s: %s",
                payment.user_id,
                payment.charge_id,
                exc,
            )


async def refunded_payment(update: Update, context: BotContext) -> None:
    """Telegram refunded a payment (its support, or a /refund seen here again): the credits
    left of it are taken back, once."""
    message = update.effective_message
    if message is None or message.refunded_payment is None:
        return
    charge_id = message.refunded_payment.telegram_payment_charge_id
    storage = context.services.storage
    UnrecordedPayments(context.services.settings.bot.data_dir).refunded(charge_id)
    took_back = await write_retrying(lambda: storage.refund_payment(charge_id))
    log.info(
        "payment %s of chat %s refunded by Telegram: %d %s%s",
        charge_id,
        message.chat.id,
        message.refunded_payment.total_amount,
        message.refunded_payment.currency,
        "; its unused credits taken back" if took_back else " (already refunded, or unknown)",
    )


async def paysupport_command(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(texts.PAYSUPPORT())


async def refund_command(update: Update, context: BotContext) -> None:
    """Admins: refund a payment's Stars and take back what is left of its credits. A payment the
    database never took is found in the kept ones, or, given its user, refunded all the same."""
    found = await admin_message(update, context)
    if found is None:
        return
    message, admin = found
    args = context.args or []
    user_id = parse_id(args[0]) if len(args) == 2 else None
    if len(args) not in (1, 2) or (len(args) == 2 and user_id is None):
        await message.reply_text(texts.REFUND_USAGE())
        return
    charge_id = args[-1]
    storage = context.services.storage
    unrecorded = UnrecordedPayments(context.services.settings.bot.data_dir)
    payment = await storage.payment(charge_id)
    if payment is None and (kept := unrecorded.find(charge_id)) is not None:
        payment = kept.payment
    if payment is not None and payment.refunded:
        await message.reply_text(texts.REFUND_ALREADY())
        return
    if user_id is None:
        if payment is None:
            await message.reply_text(texts.REFUND_UNKNOWN() + "\n" + texts.REFUND_USAGE())
            return
        user_id = payment.user_id
    payer = user_id
    try:
        await context.bot.refund_star_payment(payer, charge_id)
    except TelegramError as exc:
        log.warning("refund of %s refused by Telegram: %s", charge_id, exc)
        await message.reply_text(texts.refund_failed(exc.message))
        return
    log.info("payment %s of user %s refunded by admin %s", charge_id, payer, admin)
    unrecorded.refunded(charge_id)  # first: the database may be the one failing
    await storage.refund_payment(charge_id)
    await storage.audit(admin, "refund", payer, charge_id)
    balance = await storage.credits(payer)
    if payment is None:
        await message.reply_text(texts.refunded_unrecorded(charge_id, payer, balance))
    else:
        await message.reply_text(texts.refunded(payment, balance))
