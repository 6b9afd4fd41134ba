"""Whether a request may go ahead: the requests a user has open, the group cooldown, the daily
images and the monthly budget. Policy only: it stores nothing but what it needs to decide."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cachetools import TTLCache

from bot.config import AccessSettings
from bot.jobs import Requester
from bot.storage import Spend, Storage

T = TypeVar("T")


class LimitReached(Exception):
    """A request refused before anything was stored or fetched; the user is told which limit."""


class TooManyInFlight(LimitReached):
    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} requests in flight")
        self.limit = limit


class CoolingDown(LimitReached):
    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"cooldown, {wait_seconds:.0f} s left")
        self.wait_seconds = wait_seconds


class DailyImagesReached(LimitReached):
    def __init__(self, limit: int, resets_at: datetime) -> None:
        super().__init__(f"daily limit of {limit} images")
        self.limit = limit
        self.resets_at = resets_at


class MonthlyBudgetReached(LimitReached):
    def __init__(self, budget_usd: float, spent_usd: float, resets_at: datetime) -> None:
        super().__init__(f"monthly budget of ${budget_usd:.2f}")
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd
        self.resets_at = resets_at


@dataclass(frozen=True, slots=True)
class UsageReport:
    today: Spend
    month: Spend
    daily_limit: int
    monthly_budget_usd: float
    exempt: bool


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


class Policy:
    """One per process. Quotas are read from the ledger, where queued and running jobs count at
    their estimate; the open-request counts and cooldowns are kept in memory."""

    def __init__(
        self,
        access: AccessSettings,
        storage: Storage,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._access = access
        self._storage = storage
        self._clock = clock
        self._monotonic = monotonic
        self._open: Counter[int] = Counter()
        # When each (chat, user) last had a request accepted in a group; entries expire with the
        # cooldown, so the table stays as small as the set of users cooling down.
        self._last_in_group: TTLCache[tuple[int, int], float] = TTLCache(
            maxsize=100_000, ttl=max(access.group_cooldown_seconds, 1.0), timer=monotonic
        )
        # Checking a user's quota and storing their request happen as one step, so that two
        # requests arriving together cannot both take the last image of the day. One lock per
        # user: other users' requests do not wait on it.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def now(self) -> datetime:
        return self._clock()

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._access.admin_user_ids

    async def admit(self, who: Requester, store: Callable[[], Awaitable[T]]) -> T:
        """Raise LimitReached, or call `store` (which writes the request down) and return what
        it returns; the request is then open until `released`."""
        limited = who.user_id is not None and not self.is_admin(who.user_id)
        if limited:
            self._check_flood(who)
        # Claimed before the first await, so that the open count is never overtaken.
        self._open[who.user_id or 0] += 1
        try:
            async with self._lock(who.user_id):
                if limited:
                    assert who.user_id is not None
                    await self._check_quota(who.user_id, self._clock())
                stored = await store()
        except BaseException:
            self.released(who)
            raise
        if who.in_group and who.user_id is not None:
            self._last_in_group[(who.chat_id, who.user_id)] = self._monotonic()
        return stored

    def resumed(self, who: Requester) -> None:
        """A request stored by an earlier run, open again after a restart."""
        self._open[who.user_id or 0] += 1

    def released(self, who: Requester) -> None:
        key = who.user_id or 0
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]  # users come and go over months; their zeros need not stay

    def _lock(self, user_id: int | None) -> asyncio.Lock:
        key = user_id or 0
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _check_flood(self, who: Requester) -> None:
        assert who.user_id is not None
        limit = self._access.user_max_in_flight
        if self._open[who.user_id] >= limit:
            raise TooManyInFlight(limit)
        cooldown = self._access.group_cooldown_seconds
        last = self._last_in_group.get((who.chat_id, who.user_id))
        if who.in_group and cooldown and last is not None:
            wait = cooldown - (self._monotonic() - last)
            if wait > 0:
                raise CoolingDown(wait)

    async def _check_quota(self, user_id: int, now: datetime) -> None:
        daily = self._access.daily_images
        if daily:
            today = await self._storage.spend(user_id, day_start(now))
            if today.images >= daily:
                raise DailyImagesReached(daily, day_start(now) + timedelta(days=1))
        budget = self._access.user_monthly_budget_usd
        if budget:
            month = await self._storage.spend(user_id, month_start(now))
            if month.cost_usd >= budget:
                raise MonthlyBudgetReached(budget, month.cost_usd, next_month(now))

    async def usage(self, user_id: int) -> UsageReport:
        now = self._clock()
        return UsageReport(
            today=await self._storage.spend(user_id, day_start(now)),
            month=await self._storage.spend(user_id, month_start(now)),
            daily_limit=self._access.daily_images,
            monthly_budget_usd=self._access.user_monthly_budget_usd,
            exempt=self.is_admin(user_id),
        )
