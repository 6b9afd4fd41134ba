"""Whether a request may go ahead (requests in flight, group cooldown, daily images, monthly
budget), and its line in the ledger from acceptance to outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cachetools import TTLCache

from bot.catalog import estimated_price
from bot.config import AccessSettings
from bot.domain import Order
from bot.metrics import Metrics
from bot.storage import INTERRUPTED, OK, LedgerEntry, Spend, Storage

log = logging.getLogger(__name__)

# Stopped by the user's /cancel.
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks, and where. `user_id` is the chat a message was sent on behalf of, if it was (an
    anonymous group admin, a channel): its `from` is then a service account shared by all."""

    user_id: int | None
    chat_id: int
    message_id: int | None = None
    in_group: bool = False


class LimitReached(Exception):
    """A request refused before any upstream call; the handler tells the user which limit."""


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
class Closing:
    """How a request ended, as its ledger line is to record it."""

    request_id: int
    outcome: str
    cost_usd: float
    estimated: bool
    latency_ms: int


@dataclass(frozen=True, slots=True)
class UsageReport:
    today: Spend
    month: Spend
    daily_limit: int
    monthly_budget_usd: float
    exempt: bool


class Ticket:
    """The handler's note of how an admitted request ended."""

    def __init__(self, who: Requester) -> None:
        self.who = who
        self.outcome = "unexpected_error"
        self.cost_usd: float | None = None
        # Why the request's task was cancelled from outside (CANCELLED or INTERRUPTED), if it was.
        self.stopped_because: str | None = None
        self.task = asyncio.current_task()

    def stop(self, reason: str) -> None:
        self.stopped_because = reason
        if self.task:
            self.task.cancel()

    def succeeded(self, cost_usd: float | None) -> None:
        self.outcome, self.cost_usd = OK, cost_usd

    def failed(self, kind: str) -> None:
        self.outcome = kind


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


class Admission:
    """One per process: the in-memory guards, and the quotas read from the ledger."""

    def __init__(
        self,
        access: AccessSettings,
        storage: Storage,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._access = access
        self._metrics = metrics
        self._storage = storage
        self._clock = clock
        self._in_flight: Counter[int] = Counter()
        # When each (chat, user) last had a request accepted in a group; entries expire with the
        # cooldown, so the table stays as small as the set of users cooling down.
        self._last_in_group: TTLCache[tuple[int, int], float] = TTLCache(
            maxsize=100_000, ttl=max(access.group_cooldown_seconds, 1.0)
        )
        # Checking a user's quota and recording their request happen as one step, so that two
        # requests arriving together cannot both take the last image of the day. One lock per
        # user: other users' requests do not wait on it.
        self._quota_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._active: set[Ticket] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        # Outcomes the ledger refused to take (a full disk), by request id, to write again.
        self._unrecorded: dict[int, Closing] = {}

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._access.admin_user_ids

    @contextlib.asynccontextmanager
    async def admit(self, who: Requester, request: Order) -> AsyncIterator[Ticket]:
        """Raise LimitReached, or record the request and yield its ticket; the exit records how
        it ended. A failed request costs the user nothing. A request stopped by `cancel` or
        `drain` ends the block quietly, with the reason as the ticket's outcome."""
        now = self._clock()
        limited = who.user_id is not None and not self.is_admin(who.user_id)
        if limited:
            self._check_flood(who)
        estimate = estimated_price(request.model, request.image_size)
        # Claimed before the first await, so that the in-flight count is never overtaken.
        self._in_flight[who.user_id or 0] += 1
        try:
            async with self._quota_lock(who.user_id):
                if limited:
                    assert who.user_id is not None
                    await self._check_quota(who.user_id, now)
                request_id = await self._storage.open_request(
                    LedgerEntry(
                        chat_id=who.chat_id,
                        user_id=who.user_id,
                        message_id=who.message_id,
                        kind=request.kind.value,
                        model=request.model,
                        aspect_ratio=request.aspect_ratio,
                        image_size=request.image_size,
                        estimated_cost_usd=estimate,
                        prompt=request.prompt if self._access.log_prompts else None,
                        created_at=now,
                    )
                )
        except BaseException:
            self._release(who)
            raise
        if who.in_group and who.user_id is not None:
            self._last_in_group[(who.chat_id, who.user_id)] = time.monotonic()
        ticket = Ticket(who)
        self._active.add(ticket)
        self._idle.clear()
        started = time.monotonic()
        try:
            yield ticket
        except asyncio.CancelledError:
            if ticket.stopped_because is None or ticket.task is None:
                raise
            ticket.task.uncancel()
            ticket.outcome = ticket.stopped_because
        finally:
            self._active.discard(ticket)
            if not self._active:
                self._idle.set()
            self._release(who)
            latency = time.monotonic() - started
            ok = ticket.outcome == OK
            cost = (ticket.cost_usd if ticket.cost_usd is not None else estimate) if ok else 0.0
            estimated = ok and ticket.cost_usd is None
            await self._record(
                Closing(request_id, ticket.outcome, cost, estimated, int(latency * 1000))
            )
            self._report(who, request, ticket, latency)

    async def _record(self, closing: Closing) -> None:
        """Write how a request ended to the ledger, with any outcomes it refused before. A
        refusal (a full disk) is logged and never becomes the user's problem: their answer is
        given, a picture sent stays sent and charged, and the line is written again with the next
        request's or at shutdown (`record_unrecorded`)."""
        self._unrecorded[closing.request_id] = closing
        await self.record_unrecorded()

    async def record_unrecorded(self) -> None:
        """Write the outcomes waiting for the ledger; they stay waiting if it still refuses."""
        for closing in list(self._unrecorded.values()):
            try:
                await self._storage.close_request(
                    closing.request_id,
                    closing.outcome,
                    closing.cost_usd,
                    closing.estimated,
                    closing.latency_ms,
                )
            except Exception as exc:
                log.error(
                    "the ledger did not take the outcome of request %d (%s, $%.3f), %d waiting "
                    "in all; they are written again with the next request and at shutdown: %s",
                    closing.request_id,
                    closing.outcome,
                    closing.cost_usd,
                    len(self._unrecorded),
                    exc,
                )
                return  # the database refuses writes: the others would fail the same way
            self._unrecorded.pop(closing.request_id, None)

    def _release(self, who: Requester) -> None:
        key = who.user_id or 0
        self._in_flight[key] -= 1
        if not self._in_flight[key]:
            del self._in_flight[key]  # users come and go over months; their zeros need not stay

    def _quota_lock(self, user_id: int | None) -> asyncio.Lock:
        key = user_id or 0
        lock = self._quota_locks.get(key)
        if lock is None:
            lock = self._quota_locks[key] = asyncio.Lock()
        return lock

    def _report(self, who: Requester, request: Order, ticket: Ticket, latency: float) -> None:
        """The request's one log line, and its metrics."""
        fields = {
            "event": "request",
            "chat": who.chat_id,
            "user": who.user_id,
            "kind": request.kind.value,
            "model": request.model,
            "ratio": request.aspect_ratio,
            "size": request.image_size,
            "images": request.inputs,
            "outcome": ticket.outcome,
            "latency_s": round(latency, 3),
            "cost_usd": ticket.cost_usd,
        }
        text = " ".join(f"{key}={value}" for key, value in fields.items() if key != "event")
        log.info("request %s", text, extra={"fields": fields})
        if self._metrics:
            self._metrics.requests.labels(ticket.outcome).inc()
            self._metrics.latency.observe(latency)

    def _check_flood(self, who: Requester) -> None:
        assert who.user_id is not None
        limit = self._access.user_max_in_flight
        if self._in_flight[who.user_id] >= limit:
            raise TooManyInFlight(limit)
        cooldown = self._access.group_cooldown_seconds
        last = self._last_in_group.get((who.chat_id, who.user_id))
        if who.in_group and cooldown and last is not None:
            wait = cooldown - (time.monotonic() - last)
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

    def cancel(self, chat_id: int, user_id: int) -> int:
        """Stop the user's requests in this chat, queued or running; how many there were."""
        mine = [t for t in self._active if (t.who.chat_id, t.who.user_id) == (chat_id, user_id)]
        for ticket in mine:
            ticket.stop(CANCELLED)
        return len(mine)

    async def drain(self, grace_seconds: float) -> int:
        """Wait up to `grace_seconds` for running requests to finish, then interrupt the rest
        (each tells its user to send it again); how many were interrupted."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self._idle.wait()
        left = list(self._active)
        for ticket in left:
            ticket.stop(INTERRUPTED)
        tasks = [t.task for t in left if t.task]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        return len(left)

    async def usage(self, user_id: int) -> UsageReport:
        now = self._clock()
        return UsageReport(
            today=await self._storage.spend(user_id, day_start(now)),
            month=await self._storage.spend(user_id, month_start(now)),
            daily_limit=self._access.daily_images,
            monthly_budget_usd=self._access.user_monthly_budget_usd,
            exempt=self.is_admin(user_id),
        )
