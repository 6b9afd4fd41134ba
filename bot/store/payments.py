"""Telegram Stars payments and the credits they bought."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from bot.store.base import Aggregate
from bot.store.records import Payment


class Payments(Protocol):
    """Payments recorded once, credited and refunded by the schema's own triggers."""

    async def credits(self, user_id: int) -> int: ...

    async def add_payment(self, payment: Payment) -> bool: ...

    async def payment(self, charge_id: str) -> Payment | None: ...

    async def refund_payment(self, charge_id: str) -> bool: ...


class SqlPayments(Aggregate):
    async def credits(self, user_id: int) -> int:
        rows = await self._db.fetch(
            "SELECT balance FROM credits WHERE user_id = :user_id", user_id=user_id
        )
        return int(rows[0]["balance"]) if rows else 0

    async def add_payment(self, payment: Payment) -> bool:
        """Record a payment and credit it (the trigger `payment_credits`); False if this charge
        was recorded before, and then nothing changes."""
        rows = await self._db.fetch(
            "INSERT INTO payments (charge_id, user_id, credits, stars, paid_at) "
            "VALUES (:charge_id, :user_id, :credits, :stars, :now) "
            "ON CONFLICT (charge_id) DO NOTHING RETURNING charge_id",
            charge_id=payment.charge_id,
            user_id=payment.user_id,
            credits=payment.credits,
            stars=payment.stars,
            now=datetime.now(UTC),
        )
        return bool(rows)

    async def payment(self, charge_id: str) -> Payment | None:
        rows = await self._db.fetch(
            "SELECT charge_id, user_id, credits, stars, refunded_at IS NOT NULL AS refunded "
            "FROM payments WHERE charge_id = :charge_id",
            charge_id=charge_id,
        )
        if not rows:
            return None
        row = rows[0]
        return Payment(
            row["charge_id"],
            row["user_id"],
            row["credits"],
            row["stars"],
            refunded=bool(row["refunded"]),
        )

    async def refund_payment(self, charge_id: str) -> bool:
        """Mark a payment refunded and take back its unused credits (the trigger
        `refund_debits`); False if it was already refunded or never recorded."""
        rows = await self._db.fetch(
            "UPDATE payments SET refunded_at = :now "
            "WHERE charge_id = :charge_id AND refunded_at IS NULL RETURNING charge_id",
            now=datetime.now(UTC),
            charge_id=charge_id,
        )
        return bool(rows)
