"""Selling image credits for Telegram Stars: what an invoice carries, and whether a payment
matches a pack on sale."""

from __future__ import annotations

import re

from bot.config import StarPack

# Telegram Stars' currency code; such invoices need no payment provider token.
CURRENCY = "XTR"
_PAYLOAD = re.compile(r"pack:([0-9]{1,6}):([0-9]{1,6})")


def payload(pack: StarPack) -> str:
    """The invoice payload: the pack itself, so that a payment is checked against what was
    offered when it arrives, even after a restart or a change of prices."""
    return f"pack:{pack.images}:{pack.stars}"


def pack_of(invoice_payload: str) -> StarPack | None:
    if match := _PAYLOAD.fullmatch(invoice_payload):
        return StarPack(int(match[1]), int(match[2]))
    return None


def on_sale(
    invoice_payload: str, currency: str, total: int, offers: tuple[StarPack, ...]
) -> StarPack | None:
    """The pack a pre-checkout query is for, if it is still on sale at that price."""
    pack = pack_of(invoice_payload)
    if pack is None or pack not in offers or currency != CURRENCY or total != pack.stars:
        return None
    return pack
