"""The ledger: what users and chats spent, and the totals the operator reads."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.domain import Funding, Outcome
from bot.store.base import Aggregate
from bot.store.records import Allowance, DayTotals, Spend, UserTotals

# Requests that used (or may still use) the user's allowance.
# A request cancelled once its upstream call was made is paid like one that ended OK.
_COUNTED = (
    f"(outcome IN ('{Outcome.OK}', '{Outcome.QUEUED}', '{Outcome.RUNNING}') "
    f"OR (outcome = '{Outcome.CANCELLED}' AND upstream_sent = 1))"
)
# Requests paid from the free allowance: credit-funded ones use none of it.
_FREE = f"funding = '{Funding.FREE}'"
# A user's requests in flight: waiting, or holding a generation slot (once the picture is made,
# its upload does not keep the user's next request waiting). USER_MAX_IN_FLIGHT counts requests:
# a x4 is one job, holding one generation slot, though quotas count its four images.
_IN_FLIGHT = f"(outcome = '{Outcome.QUEUED}' OR (outcome = '{Outcome.RUNNING}' AND generating = 1))"
_FAILED = f"outcome NOT IN ('{Outcome.OK}', '{Outcome.QUEUED}', '{Outcome.RUNNING}')"


class Ledger(Protocol):
    """Spend against quotas and budgets, and the operator's statistics."""

    async def spend(self, user_id: int, since: datetime, *, free_only: bool = False) -> Spend: ...

    async def chat_spend(self, chat_id: int, since: datetime) -> Spend: ...

    async def allowance(self, user_id: int, day: datetime, month: datetime) -> Allowance: ...

    async def daily_totals(self, since: datetime) -> list[DayTotals]: ...

    async def top_users(self, since: datetime, limit: int) -> list[UserTotals]: ...

    async def failures_by_kind(self, since: datetime) -> list[tuple[str, int]]: ...


class SqlLedger(Aggregate):
    async def spend(self, user_id: int, since: datetime, *, free_only: bool = False) -> Spend:
        """What the user used since `since`; `free_only`: of their free allowance only."""
        free = f" AND {_FREE}" if free_only else ""
        return await self._spend(f"user_id = :subject_id{free}", user_id, since)

    async def chat_spend(self, chat_id: int, since: datetime) -> Spend:
        """What a group's members used of its free allowance since `since`."""
        return await self._spend(f"chat_id = :subject_id AND {_FREE}", chat_id, since)

    async def allowance(self, user_id: int, day: datetime, month: datetime) -> Allowance:
        """The user's requests in flight, and their free allowance used since `day` and since
        `month`, in one statement: admission reads it for every request."""
        spent = (
            "COALESCE(SUM(CASE WHEN created_at >= :{since} THEN images END), 0) AS {since}_images, "
            "COALESCE(SUM(CASE WHEN created_at >= :{since} THEN cost_usd END), 0) AS {since}_cost, "
            "COALESCE(MAX(CASE WHEN created_at >= :{since} THEN cost_estimated END), 0) "
            "AS {since}_estimated"
        )
        [row] = await self._db.fetch(
            "SELECT (SELECT COUNT(*) FROM requests "
            f"WHERE user_id = :user_id AND {_IN_FLIGHT}) AS in_flight, "
            f"{spent.format(since='day')}, {spent.format(since='month')} "
            f"FROM requests WHERE user_id = :user_id AND {_FREE} AND {_COUNTED} "
            "AND created_at >= :earliest",
            user_id=user_id,
            day=day,
            month=month,
            earliest=min(day, month),
        )
        return Allowance(
            int(row["in_flight"]),
            *(
                Spend(
                    images=int(row[f"{since}_images"]),
                    cost_usd=float(row[f"{since}_cost"]),
                    estimated=bool(row[f"{since}_estimated"]),
                )
                for since in ("day", "month")
            ),
        )

    async def _spend(self, where: str, subject_id: int, since: datetime) -> Spend:
        [row] = await self._db.fetch(
            "SELECT COALESCE(SUM(images), 0) AS images, COALESCE(SUM(cost_usd), 0) AS cost, "
            "COALESCE(MAX(cost_estimated), 0) AS estimated "
            f"FROM requests WHERE {where} AND created_at >= :since AND {_COUNTED}",
            subject_id=subject_id,
            since=since,
        )
        return Spend(
            images=int(row["images"]),
            cost_usd=float(row["cost"]),
            estimated=bool(row["estimated"]),
        )

    async def daily_totals(self, since: datetime) -> list[DayTotals]:
        rows = await self._db.fetch(
            # Images, as quotas count them: a x4 request made (or failed to make) four.
            "SELECT substr(created_at, 1, 10) AS day, "
            f"COALESCE(SUM(images) FILTER (WHERE outcome = '{Outcome.OK}'), 0) AS ok, "
            f"COALESCE(SUM(images) FILTER (WHERE {_FAILED}), 0) AS failed, "
            f"COALESCE(SUM(cost_usd) FILTER (WHERE outcome = '{Outcome.OK}'), 0) AS cost "
            "FROM requests WHERE created_at >= :since GROUP BY 1 ORDER BY 1 DESC",
            since=since,
        )
        return [
            DayTotals(row["day"], int(row["ok"]), int(row["failed"]), float(row["cost"]))
            for row in rows
        ]

    async def top_users(self, since: datetime, limit: int) -> list[UserTotals]:
        rows = await self._db.fetch(
            "SELECT user_id, SUM(images) AS images, SUM(cost_usd) AS cost FROM requests "
            f"WHERE created_at >= :since AND outcome = '{Outcome.OK}' AND user_id IS NOT NULL "
            "GROUP BY user_id ORDER BY 3 DESC, 2 DESC LIMIT :limit",
            since=since,
            limit=limit,
        )
        return [UserTotals(row["user_id"], int(row["images"]), float(row["cost"])) for row in rows]

    async def failures_by_kind(self, since: datetime) -> list[tuple[str, int]]:
        rows = await self._db.fetch(
            # A request without a picture counts under its reason: `refused/image_safety`.
            "SELECT outcome || COALESCE('/' || no_picture_reason, '') AS kind, "
            "COUNT(*) AS count FROM requests "
            f"WHERE created_at >= :since AND {_FAILED} "
            "GROUP BY 1 ORDER BY 2 DESC, 1",
            since=since,
        )
        return [(row["kind"], int(row["count"])) for row in rows]
