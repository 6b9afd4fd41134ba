"""Starting and stopping without losing requests: answering what a crash left unfinished, and a
graceful stop that lets requests in flight finish first."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from telegram import Bot, ReplyParameters
from telegram.error import TelegramError
from telegram.ext import Application

from bot import texts
from bot.handlers.context import Services
from bot.storage import INTERRUPTED, Storage

log = logging.getLogger(__name__)


async def answer_unfinished(bot: Bot, storage: Storage) -> int:
    """Tell the users whose requests were cut off by a crash to send them again."""
    unfinished = await storage.unfinished_requests()
    for item in unfinished:
        reply = (
            ReplyParameters(item.message_id, allow_sending_without_reply=True)
            if item.message_id
            else None
        )
        try:
            await bot.send_message(item.chat_id, texts.INTERRUPTED, reply_parameters=reply)
        except TelegramError as exc:
            log.warning("could not tell chat %s about its lost request: %s", item.chat_id, exc)
        # Marked either way: a chat that cannot be reached must not be retried at every start.
        # The cost it was opened with stays, marked estimated: the upstream may have been paid
        # (a picture delivered while the disk was too full to record it is one). It counts
        # against no user: an interrupted request costs them nothing.
        await storage.close_request(item.request_id, INTERRUPTED, item.estimated_cost_usd, True, 0)
    if unfinished:
        log.warning("answered %d request(s) left unfinished by the last run", len(unfinished))
    return len(unfinished)


def stop_gracefully_on_signals(
    application: Application[Any, Any, Any, Any, Any, Any], grace_seconds: float
) -> None:
    """On SIGTERM or SIGINT: take no new updates, give requests in flight `grace_seconds` to
    finish, tell the rest to send again, then stop the application (exit status 0)."""
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def on_signal(signum: int) -> None:
        if stopping:
            return
        log.info("%s received: stopping", signal.Signals(signum).name)
        stopping.append(loop.create_task(_stop(application, grace_seconds)))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


async def _stop(application: Application[Any, Any, Any, Any, Any, Any], grace: float) -> None:
    if application.updater and application.updater.running:
        await application.updater.stop()
    log.info("no longer taking updates; waiting up to %.0f s for requests in flight", grace)
    interrupted = await Services.of(application).admission.drain(grace)
    if interrupted:
        log.warning("%d request(s) did not finish in time; their users were told", interrupted)
    application.stop_running()
