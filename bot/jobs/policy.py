"""Whether a request may go ahead, and what pays for it: the requests a user has open, the group
cooldown, the daily images, the user's and the group's monthly budgets, then bought credits.
Policy only: it stores nothing but what it needs to decide."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bot.config import AccessSettings
from bot.domain import Funding
from bot.jobs.model import Requester
from bot.overrides import Overrides
from bot.store.storage import Allowance, Spend, Storage

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


class QuotaReached(LimitReached):
    """A free allowance is used up; a bought credit, if the user has one, pays instead."""


class DailyImagesReached(QuotaReached):
    def __init__(self, limit: int, resets_at: datetime, asked: int = 1, left: int = 0) -> None:
        super().__init__(f"daily limit of {limit} images")
        self.limit = limit
        self.resets_at = resets_at
        # A request for several images (x4) may be refused with some still left.
        self.asked = asked
        self.left = left


class MonthlyBudgetReached(QuotaReached):
    def __init__(self, budget_usd: float, spent_usd: float, resets_at: datetime) -> None:
        super().__init__(f"monthly budget of ${budget_usd:.2f}")
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd
        self.resets_at = resets_at


class GroupBudgetReached(QuotaReached):
    """The group's budget for the month, which all its members share."""

    def __init__(self, budget_usd: float, spent_usd: float, resets_at: datetime) -> None:
        super().__init__(f"group's monthly budget of ${budget_usd:.2f}")
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
    # Image credits bought with Stars; None when the bot sells none and the user has none.
    credits: int | None = None


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


class Policy:
    """One per process. Quotas and requests in flight are read from the ledger, where queued and
    running jobs count at their estimate, and group cooldowns from the database, so they all
    hold across replicas."""

    def __init__(
        self,
        access: AccessSettings,
        storage: Storage,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        overrides: Overrides | None = None,
        selling: bool = False,
    ) -> None:
        self._access = access
        self._storage = storage
        self._overrides = overrides or Overrides()
        # Credits are sold (Telegram Stars): a user past a free allowance may pay with one.
        self._selling = selling
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._access.admin_user_ids

    async def admit(
        self,
        who: Requester,
        store: Callable[[Storage, Funding], Awaitable[T]],
        images: int = 1,
        *,
        cost_usd: float,
    ) -> T:
        """Raise LimitReached, or call `store(storage, funding)` (which writes the request down,
        and with Funding.CREDIT takes the credit in the same write) and return what it returns.
        The checks and the write are one step for this user (and group), in every replica, so
        that two requests arriving together cannot both take the last image of the day. Free
        allowances are used first, then credits. A request for several `images` (x4) must fit
        the free allowance whole: a job takes one credit, so credits pay for single pictures
        only. It is still one request in flight (USER_MAX_IN_FLIGHT counts requests). A monthly
        budget must hold the request's estimated `cost_usd` too."""
        limited = who.user_id is not None and not self.is_admin(who.user_id)
        cooling = limited and who.in_group and self._access.group_cooldown_seconds > 0
        async with self._storage.serialized(*self._subjects(who)) as storage:
            now = self._clock()
            funding = Funding.FREE
            if limited:
                assert who.user_id is not None
                if cooling:
                    await self._check_cooldown(storage, who, now)
                used = await storage.allowance(who.user_id, day_start(now), month_start(now))
                limit = self._access.user_max_in_flight
                if used.in_flight >= limit:
                    raise TooManyInFlight(limit)
                try:
                    await self._check_quota(storage, who, used, now, images, cost_usd)
                except QuotaReached:
                    if images > 1 or not (self._selling and await storage.credits(who.user_id) > 0):
                        raise
                    funding = Funding.CREDIT
            stored = await store(storage, funding)
            if cooling:
                assert who.user_id is not None
                await storage.set_cooldown(who.chat_id, who.user_id, now.timestamp())
        return stored

    @staticmethod
    def _subjects(who: Requester) -> tuple[int, ...]:
        """Whose allowances a request uses: the user's, and a group's budget, which all its
        members share (not for a chat writing as itself: that is the user already)."""
        user = who.user_id or 0
        return (user, who.chat_id) if who.in_group and user != who.chat_id else (user,)

    async def _check_cooldown(self, storage: Storage, who: Requester, now: datetime) -> None:
        assert who.user_id is not None
        last = await storage.cooldown(who.chat_id, who.user_id)
        if last is not None:
            wait = self._access.group_cooldown_seconds - (now.timestamp() - last)
            if wait > 0:
                raise CoolingDown(wait)

    def daily_limit(self, user_id: int) -> int:
        return self._overrides.daily_images(user_id, self._access.daily_images)

    def monthly_budget(self, user_id: int) -> float:
        return self._overrides.monthly_budget(user_id, self._access.user_monthly_budget_usd)

    def group_budget(self, chat_id: int) -> float:
        return self._overrides.monthly_budget(chat_id, self._access.group_monthly_budget_usd)

    async def _check_quota(
        self,
        storage: Storage,
        who: Requester,
        used: Allowance,
        now: datetime,
        images: int,
        cost_usd: float,
    ) -> None:
        assert who.user_id is not None
        user_id = who.user_id
        if daily := self.daily_limit(user_id):
            today = used.today
            if today.images + images > daily:
                left = max(0, daily - today.images)
                raise DailyImagesReached(daily, day_start(now) + timedelta(days=1), images, left)
        if budget := self.monthly_budget(user_id):
            month = used.month
            if month.cost_usd + cost_usd > budget:
                raise MonthlyBudgetReached(budget, month.cost_usd, next_month(now))
        if who.in_group and (group := self.group_budget(who.chat_id)):
            spent = await storage.chat_spend(who.chat_id, month_start(now))
            if spent.cost_usd + cost_usd > group:
                raise GroupBudgetReached(group, spent.cost_usd, next_month(now))

    async def usage(self, user_id: int) -> UsageReport:
        now = self._clock()
        credits = await self._storage.credits(user_id)
        return UsageReport(
            today=await self._storage.spend(user_id, day_start(now)),
            month=await self._storage.spend(user_id, month_start(now)),
            daily_limit=self.daily_limit(user_id),
            monthly_budget_usd=self.monthly_budget(user_id),
            exempt=self.is_admin(user_id),
            credits=credits if self._selling or credits else None,
        )
