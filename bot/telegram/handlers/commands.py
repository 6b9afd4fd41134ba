"""Command handlers that are not settings: /start, /help, /cancel (and the Cancel button),
/usage, /stats, unknown ones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from telegram import Update

from bot import texts
from bot.domain import Stopped
from bot.jobs.policy import day_start
from bot.ops.chart import usage_chart
from bot.telegram.handlers.access import requester_id
from bot.telegram.notes import CancelButton
from bot.telegram.services import BotContext


async def help_command(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(texts.help_text(context.bot.username))


async def unknown_command(update: Update, context: BotContext) -> None:
    if update.effective_message:
        await update.effective_message.reply_text(texts.UNKNOWN_COMMAND())


async def usage_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message and (who := requester_id(message)) is not None:
        await message.reply_text(texts.usage(await context.services.policy.usage(who)))


# Days in the /stats chart.
CHART_DAYS = 30


async def stats_command(update: Update, context: BotContext) -> None:
    """Admins only: the last seven days at a glance, then a chart of the last thirty."""
    message = update.effective_message
    if message is None:
        return
    services = context.services
    if not services.policy.is_admin(requester_id(message)):
        await message.reply_text(texts.ADMINS_ONLY())
        return
    today = day_start(datetime.now(UTC))
    since = today - timedelta(days=6)
    storage = services.storage
    await message.reply_text(
        texts.stats(
            await storage.daily_totals(since),
            await storage.top_users(since, limit=10),
            await storage.failures_by_kind(since),
        )
    )
    chart_since = today - timedelta(days=CHART_DAYS - 1)
    days = await storage.daily_totals(chart_since)
    failures = await storage.failures_by_kind(chart_since)
    # Drawing takes tens of milliseconds of CPU: not on the loop every update waits on.
    png = await asyncio.to_thread(usage_chart, days, failures, today.date(), CHART_DAYS)
    await message.reply_photo(png, caption=texts.chart_caption(CHART_DAYS))


async def cancel_command(update: Update, context: BotContext) -> None:
    """Stops the user's queued or running request in this chat."""
    message = update.effective_message
    if message is None or (who := requester_id(message)) is None:
        return
    stopped = await context.services.jobs.cancel(message.chat_id, who)
    await message.reply_text(_stopped_text(stopped) if stopped else texts.NOTHING_TO_CANCEL())


async def cancel_button(update: Update, context: BotContext) -> None:
    """The Cancel button under a queue note: `cancel|<job id>`, for the one who asked."""
    query = update.callback_query
    if query is None:
        return
    button = CancelButton.unpack(query.data)
    jobs = context.services.jobs
    owner = await jobs.owner(button.job_id) if button is not None else None
    if button is None or owner is None:
        await query.answer(texts.NOTHING_TO_CANCEL_HERE())
    elif owner.user_id != query.from_user.id:
        await query.answer(texts.NOT_YOURS_TO_CANCEL(), show_alert=True)
    elif stopped := await jobs.cancel_job(button.job_id):
        await query.answer(_stopped_text(stopped))
    else:  # its picture is made, and on its way
        await query.answer(texts.NOTHING_TO_CANCEL_HERE())


def _stopped_text(stopped: Stopped) -> str:
    """A job already sent upstream is paid though stopped: the user is told so."""
    return texts.CANCELLED_PAID() if stopped is Stopped.PAID else texts.CANCELLED()
