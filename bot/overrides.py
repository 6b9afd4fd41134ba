"""What admins change from Telegram on top of .env: who is let in or kept out, and per-user or
per-chat limits; kept in memory over the database, each change audited and told to the other
replicas, which read the rules again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from bot.store.storage import AuditEntry, Limits, Storage

log = logging.getLogger(__name__)

# Users have positive ids; groups, supergroups and channels negative ones.
Subject = int
CHANGED = "bot_overrides"


class Overrides:
    """One per process. The doorkeeper asks on every update, so the rules live in memory: read
    once at start, and changed only here, database first."""

    def __init__(self, storage: Storage | None = None) -> None:
        # None: no overrides and nowhere to store any (a doorkeeper or policy on its own).
        self._storage = storage
        self._access: dict[Subject, bool] = {}
        self._limits: dict[Subject, Limits] = {}
        self._listeners: list[Callable[[Subject], None]] = []
        self._reload: asyncio.Task[None] | None = None

    async def load(self) -> None:
        """Read the rules; listeners hear of every subject whose access changed."""
        assert self._storage is not None
        access = await self._storage.access_rules()
        self._limits = await self._storage.limits()
        changed = {
            s for s in access.keys() | self._access.keys() if access.get(s) != self._access.get(s)
        }
        self._access = access
        for subject in changed:
            self._tell(subject)

    async def watch(self) -> None:
        """Read the rules again whenever another replica changed them."""
        assert self._storage is not None
        await self._storage.listen(CHANGED, lambda _: self._reload_soon())

    def _reload_soon(self) -> None:
        self._reload = asyncio.get_running_loop().create_task(self._reload_now())

    async def _reload_now(self) -> None:
        try:
            await self.load()
        except Exception as exc:
            log.error("could not read the admins' rules again: %s", exc)

    def on_change(self, listener: Callable[[Subject], None]) -> None:
        """Call `listener(subject)` after each change of who is let in."""
        self._listeners.append(listener)

    # ---- reading (hot) -----------------------------------------------------------------------
    def allowed(self, subject: Subject) -> bool:
        return self._access.get(subject) is True

    def denied(self, subject: Subject) -> bool:
        return self._access.get(subject) is False

    @property
    def allowed_chats(self) -> tuple[Subject, ...]:
        return tuple(s for s, allowed in self._access.items() if allowed and s < 0)

    @property
    def rules(self) -> dict[Subject, bool]:
        return dict(self._access)

    @property
    def all_limits(self) -> dict[Subject, Limits]:
        return dict(self._limits)

    def daily_images(self, subject: Subject, default: int) -> int:
        value = self._limits.get(subject, Limits()).daily_images
        return default if value is None else value

    def monthly_budget(self, subject: Subject, default: float) -> float:
        value = self._limits.get(subject, Limits()).monthly_budget_usd
        return default if value is None else value

    # ---- changing (an admin's command) -------------------------------------------------------
    async def set_access(self, admin_id: int, subject: Subject, allowed: bool) -> None:
        assert self._storage is not None
        await self._storage.set_access(subject, allowed)
        await self._storage.audit(admin_id, "allow" if allowed else "deny", subject, "")
        self._access[subject] = allowed
        self._tell(subject)
        await self._storage.notify(CHANGED)

    def _tell(self, subject: Subject) -> None:
        for listener in self._listeners:
            listener(subject)

    async def set_daily_images(self, admin_id: int, subject: Subject, images: int) -> None:
        limits = replace(self._limits.get(subject, Limits()), daily_images=images)
        await self._set(admin_id, subject, "quota", str(images), limits)

    async def set_monthly_budget(self, admin_id: int, subject: Subject, usd: float) -> None:
        limits = replace(self._limits.get(subject, Limits()), monthly_budget_usd=usd)
        await self._set(admin_id, subject, "budget", f"{usd:.2f}", limits)

    async def _set(
        self, admin_id: int, subject: Subject, action: str, value: str, limits: Limits
    ) -> None:
        assert self._storage is not None
        await self._storage.set_limits(subject, limits)
        await self._storage.audit(admin_id, action, subject, value)
        self._limits[subject] = limits
        await self._storage.notify(CHANGED)

    async def audit_log(self, limit: int = 15) -> list[AuditEntry]:
        assert self._storage is not None
        return await self._storage.audit_log(limit)
