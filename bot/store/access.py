"""What admins decide from Telegram: access rules, limits, their audit, and group cooldowns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from bot.store.base import Aggregate
from bot.store.drivers import moment
from bot.store.records import AuditEntry, Limits


class Access(Protocol):
    """Who may use the bot and how much, on top of .env, and who changed it."""

    async def access_rules(self) -> dict[int, bool]: ...

    async def set_access(self, subject_id: int, allowed: bool) -> None: ...

    async def limits(self) -> dict[int, Limits]: ...

    async def set_limits(self, subject_id: int, limits: Limits) -> None: ...

    async def audit(
        self, admin_id: int, action: str, subject_id: int | None, value: str
    ) -> None: ...

    async def audit_log(self, limit: int) -> list[AuditEntry]: ...

    async def cooldown(self, chat_id: int, user_id: int) -> float | None: ...

    async def set_cooldown(self, chat_id: int, user_id: int, at: float) -> None: ...


class SqlAccess(Aggregate):
    async def access_rules(self) -> dict[int, bool]:
        rows = await self._db.fetch("SELECT subject_id, allowed FROM access_rules")
        return {row["subject_id"]: bool(row["allowed"]) for row in rows}

    async def set_access(self, subject_id: int, allowed: bool) -> None:
        await self._db.execute(
            "INSERT INTO access_rules (subject_id, allowed, updated_at) "
            "VALUES (:subject_id, :allowed, :now) "
            "ON CONFLICT (subject_id) DO UPDATE SET allowed = excluded.allowed, "
            "updated_at = excluded.updated_at",
            subject_id=subject_id,
            allowed=int(allowed),
            now=datetime.now(UTC),
        )

    async def limits(self) -> dict[int, Limits]:
        rows = await self._db.fetch(
            "SELECT subject_id, daily_images, monthly_budget_usd FROM limits"
        )
        return {
            row["subject_id"]: Limits(row["daily_images"], row["monthly_budget_usd"])
            for row in rows
        }

    async def set_limits(self, subject_id: int, limits: Limits) -> None:
        budget = limits.monthly_budget_usd
        await self._db.execute(
            "INSERT INTO limits (subject_id, daily_images, monthly_budget_usd, updated_at) "
            "VALUES (:subject_id, :daily_images, :budget, :now) "
            "ON CONFLICT (subject_id) DO UPDATE SET daily_images = excluded.daily_images, "
            "monthly_budget_usd = excluded.monthly_budget_usd, updated_at = excluded.updated_at",
            subject_id=subject_id,
            daily_images=limits.daily_images,
            budget=None if budget is None else float(budget),
            now=datetime.now(UTC),
        )

    async def audit(self, admin_id: int, action: str, subject_id: int | None, value: str) -> None:
        await self._db.execute(
            "INSERT INTO audit (at, admin_id, action, subject_id, value) "
            "VALUES (:now, :admin_id, :action, :subject_id, :value)",
            now=datetime.now(UTC),
            admin_id=admin_id,
            action=action,
            subject_id=subject_id,
            value=value,
        )

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        """The latest `limit` changes, newest first."""
        rows = await self._db.fetch(
            "SELECT at, admin_id, action, subject_id, value FROM audit "
            "ORDER BY id DESC LIMIT :limit",
            limit=limit,
        )
        return [
            AuditEntry(
                moment(row["at"]), row["admin_id"], row["action"], row["subject_id"], row["value"]
            )
            for row in rows
        ]

    async def cooldown(self, chat_id: int, user_id: int) -> float | None:
        """When the member's last request in the group was accepted (seconds since the epoch)."""
        rows = await self._db.fetch(
            "SELECT accepted_at FROM group_cooldowns "
            "WHERE chat_id = :chat_id AND user_id = :user_id",
            chat_id=chat_id,
            user_id=user_id,
        )
        return float(rows[0]["accepted_at"]) if rows else None

    async def set_cooldown(self, chat_id: int, user_id: int, at: float) -> None:
        await self._db.execute(
            "INSERT INTO group_cooldowns (chat_id, user_id, accepted_at) "
            "VALUES (:chat_id, :user_id, :at) "
            "ON CONFLICT (chat_id, user_id) DO UPDATE SET accepted_at = excluded.accepted_at",
            chat_id=chat_id,
            user_id=user_id,
            at=at,
        )
