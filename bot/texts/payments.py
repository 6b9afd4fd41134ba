"""Telegram Stars: /buy, invoices, payments, /paysupport and refunds."""

from __future__ import annotations

from bot.config import StarPack
from bot.i18n import Text, ngettext
from bot.i18n import gettext as _
from bot.store.storage import Payment
from bot.texts._shared import count_images, echo

__all__ = [
    "NOT_SELLING",
    "PACK_GONE",
    "PAYMENT_REFUSED",
    "PAYSUPPORT",
    "REFUND_ALREADY",
    "REFUND_UNKNOWN",
    "REFUND_USAGE",
    "STAR_COMMANDS",
    "buy_offer",
    "invoice_description",
    "invoice_title",
    "pack_label",
    "payment_already_counted",
    "payment_kept",
    "payment_received",
    "refund_failed",
    "refunded",
    "refunded_unrecorded",
]

STAR_COMMANDS: tuple[tuple[str, Text], ...] = (
    ("buy", Text("Buy more images with Telegram Stars")),
    ("paysupport", Text("Help with a payment")),
)
NOT_SELLING = Text("This bot doesn't sell images.")
PACK_GONE = Text("That pack is no longer on sale. Send /buy to see the current ones.")
PAYMENT_REFUSED = Text(
    "That pack is no longer on sale at this price. Send /buy to see the current ones."
)
PAYSUPPORT = Text(
    "Help with a payment\n\n"
    "Stars buy image credits: one credit is one picture, used only when your free images (or "
    "this month's budget) run out. A picture that fails gives its credit back; one you cancel "
    "does too, unless it was already being drawn. /usage shows your balance.\n\n"
    "If something went wrong with a payment, write to the bot's operator and include the charge "
    "id from the payment's receipt (Telegram keeps it in the chat). Refunds are made in Stars, "
    "to the account that paid."
)
REFUND_USAGE = Text(
    "Usage: /refund <charge id> (from the payment's receipt, or the log), or "
    "/refund <user id> <charge id> for a payment the bot did not record."
)
REFUND_UNKNOWN = Text("I have no payment with that charge id.")
REFUND_ALREADY = Text("That payment was already refunded.")


def refund_failed(reason: str) -> str:
    return _("Telegram refused the refund: {reason}").format(reason=echo(reason))


def buy_offer(packs: tuple[StarPack, ...], balance: int) -> str:
    lines = [
        ngettext(
            "You have {n} bought image. Packs for sale:",
            "You have {n} bought images. Packs for sale:",
            balance,
        ).format(n=balance),
        *(f"• {pack_label(p)}" for p in packs),
        "\n"
        + _("Credits are used when your free images run out; a failed picture gives its back."),
        _("Help with payments: /paysupport"),
    ]
    return "\n".join(lines)


def pack_label(pack: StarPack) -> str:
    return ngettext("{n} image for {stars} ⭐", "{n} images for {stars} ⭐", pack.images).format(
        n=pack.images, stars=pack.stars
    )


def invoice_title(pack: StarPack) -> str:
    return count_images(pack.images)


def invoice_description(pack: StarPack) -> str:
    return ngettext(
        "{n} image credit, used when your free daily images run out. "
        "A picture that fails gives its credit back.",
        "{n} image credits, used when your free daily images run out. "
        "A picture that fails gives its credit back.",
        pack.images,
    ).format(n=pack.images)


def payment_received(credits: int, balance: int) -> str:
    return ngettext(
        "Thank you! {n} image added; you now have {balance}.",
        "Thank you! {n} images added; you now have {balance}.",
        credits,
    ).format(n=credits, balance=balance)


def payment_kept(charge_id: str) -> str:
    return _(
        "Your payment is safe, but I couldn't add your images just now. They will be added "
        "automatically, and I'll tell you when. If they aren't, send /paysupport and give this "
        "charge id: {charge}"
    ).format(charge=charge_id)


def payment_already_counted(balance: int) -> str:
    return ngettext(
        "This payment was already counted; you have {n} bought image.",
        "This payment was already counted; you have {n} bought images.",
        balance,
    ).format(n=balance)


def refunded(payment: Payment, balance: int) -> str:
    return _("Refunded {stars} ⭐ to user {user}; their bought images: {balance}.").format(
        stars=payment.stars, user=payment.user_id, balance=balance
    )


def refunded_unrecorded(charge_id: str, user_id: int, balance: int) -> str:
    return _(
        "Refunded payment {charge} to user {user}; it was never credited. "
        "Their bought images: {balance}."
    ).format(charge=echo(charge_id), user=user_id, balance=balance)
