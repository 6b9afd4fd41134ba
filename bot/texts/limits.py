"""Limits and spend: a limit reached, /usage, /stats and its chart."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import gettext as _
from bot.i18n import ngettext
from bot.jobs.policy import (
    CoolingDown,
    DailyImagesReached,
    GroupBudgetReached,
    LimitReached,
    MonthlyBudgetReached,
    QuotaReached,
    TooManyInFlight,
    UsageReport,
)
from bot.store.storage import DayTotals, Spend, UserTotals
from bot.texts._shared import count_images, date_time, dollars

__all__ = [
    "CHART_IMAGES",
    "CHART_NO_FAILURES",
    "CHART_SPEND",
    "chart_caption",
    "chart_failures",
    "chart_title",
    "limit_reached",
    "stats",
    "usage",
]


def _until(moment: datetime, now: datetime) -> str:
    left = max(0, int((moment - now).total_seconds()))
    hours, minutes = divmod(left // 60, 60)
    return _("{when} UTC (in {hours} h {minutes} min)").format(
        when=date_time(moment), hours=hours, minutes=minutes
    )


def limit_reached(error: LimitReached, now: datetime, selling: bool = False) -> str:
    text = _limit_reached(error, now)
    if selling and isinstance(error, QuotaReached):
        text += " " + _("You can buy more images with Telegram Stars: /buy")
    return text


def _limit_reached(error: LimitReached, now: datetime) -> str:
    if isinstance(error, TooManyInFlight):
        return ngettext(
            "You already have a picture in progress. Send this again when it's done.",
            "You already have {n} pictures in progress. Send this again when they're done.",
            error.limit,
        ).format(n=error.limit)
    if isinstance(error, CoolingDown):
        seconds = max(1, round(error.wait_seconds))
        return _("Please wait {n} s before your next picture here.").format(n=seconds)
    if isinstance(error, DailyImagesReached) and error.left:
        return ngettext(
            "That's {asked} images, and you have {n} of today's {limit} left. "
            "The limit resets at {until}.",
            "That's {asked} images, and you have {n} of today's {limit} left. "
            "The limit resets at {until}.",
            error.left,
        ).format(
            asked=error.asked,
            n=error.left,
            limit=error.limit,
            until=_until(error.resets_at, now),
        )
    if isinstance(error, DailyImagesReached):
        return ngettext(
            "You've used all {n} of today's images. The limit resets at {until}.",
            "You've used all {n} of today's images. The limit resets at {until}.",
            error.limit,
        ).format(n=error.limit, until=_until(error.resets_at, now))
    if isinstance(error, GroupBudgetReached):
        return _(
            "This group has used its budget of ${budget} for this month (spent ${spent}), "
            "so I can't draw more here until {until}."
        ).format(
            budget=dollars(error.budget_usd),
            spent=dollars(error.spent_usd),
            until=_until(error.resets_at, now),
        )
    if isinstance(error, MonthlyBudgetReached):
        return _(
            "You've used this month's budget of ${budget} (spent ${spent}). It resets on {until}."
        ).format(
            budget=dollars(error.budget_usd),
            spent=dollars(error.spent_usd),
            until=_until(error.resets_at, now),
        )
    return _("You've reached a usage limit. Please try again later.")


def _spend(spend: Spend) -> str:
    text = f"{count_images(spend.images)}, ${spend.cost_usd:.3f}"
    return text + " " + _("(partly estimated)") if spend.estimated else text


def usage(report: UsageReport) -> str:
    lines = [
        _("Today: {spend}").format(spend=_spend(report.today)),
        _("This month: {spend}").format(spend=_spend(report.month)),
    ]
    if report.exempt:
        lines.append(_("As an administrator you have no limits."))
    else:
        if report.daily_limit:
            left = max(0, report.daily_limit - report.today.images)
            lines.append(
                ngettext(
                    "Left today: {left} of {limit} image",
                    "Left today: {left} of {limit} images",
                    report.daily_limit,
                ).format(left=left, limit=report.daily_limit)
            )
        if report.monthly_budget_usd:
            left_usd = max(0.0, report.monthly_budget_usd - report.month.cost_usd)
            lines.append(
                _("Left this month: ${left} of ${budget}").format(
                    left=dollars(left_usd), budget=dollars(report.monthly_budget_usd)
                )
            )
        if not report.daily_limit and not report.monthly_budget_usd:
            lines.append(_("No limits are set."))
    if report.credits is not None:
        lines.append(
            _("Bought credits: {images} (used when the free ones run out; /buy for more)").format(
                images=count_images(report.credits)
            )
        )
    return _("Your usage (days and months in UTC)") + "\n" + "\n".join(lines)


def stats(days: list[DayTotals], users: list[UserTotals], failures: list[tuple[str, int]]) -> str:
    none = _("none")
    lines = [_("Last 7 days (UTC)")]
    lines += [
        _("{day}: {ok} ok, {failed} failed, ${cost}").format(
            day=d.day, ok=d.ok, failed=d.failed, cost=dollars(d.cost_usd)
        )
        for d in days
    ] or [_("no requests")]
    lines.append("\n" + _("Top users"))
    lines += [f"{u.user_id}: {count_images(u.images)}, ${u.cost_usd:.2f}" for u in users] or [none]
    lines.append("\n" + _("Failures by kind"))
    lines += [f"{kind}: {count}" for kind, count in failures] or [none]
    return "\n".join(lines)


# Drawn with Pillow's built-in font, which has Latin letters only: English for everyone.
CHART_IMAGES = "Images per day (blue: delivered, red: failed)"
CHART_SPEND = "Spend per day (USD)"
CHART_NO_FAILURES = "No failures."


def chart_title(days: int) -> str:
    return f"Usage over the last {days} days (UTC)"


def chart_failures(days: int) -> str:
    return f"Failures by kind, last {days} days"


def chart_caption(days: int) -> str:
    return ngettext(
        "Usage over the last {n} day (UTC)", "Usage over the last {n} days (UTC)", days
    ).format(n=days)
