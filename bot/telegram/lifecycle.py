"""Stopping without losing requests: on SIGTERM or SIGINT, no new updates, requests in flight
get the grace period, queued ones stay stored for the next run."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import Application

from bot.telegram.services import Services

log = logging.getLogger(__name__)


def stop_gracefully_on_signals(
    application: Application[Any, Any, Any, Any, Any, Any],
    grace_seconds: float,
    *,
    stop_taking: Callable[[], Awaitable[None]],
) -> None:
    """On SIGTERM or SIGINT: take no new updates (`stop_taking`: the polling loop or the webhook
    server stops), give jobs running `grace_seconds` to finish,
    then stop the application (exit status 0). Queued jobs, and running ones whose upstream call
    was not made yet, are carried out after the restart; the others are told to send again."""
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def on_signal(signum: int) -> None:
        if stopping:
            return
        log.info("%s received: stopping", signal.Signals(signum).name)
        stopping.append(loop.create_task(_stop(application, grace_seconds, stop_taking)))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


async def _stop(
    application: Application[Any, Any, Any, Any, Any, Any],
    grace: float,
    stop_taking: Callable[[], Awaitable[None]],
) -> None:
    await stop_taking()
    log.info("no longer taking updates; waiting up to %.0f s for jobs running", grace)
    jobs = Services.of(application).jobs
    interrupted = await jobs.drain(grace)
    if interrupted:
        log.warning("%d job(s) did not finish in time", interrupted)
    if jobs.waiting:
        log.info("%d queued job(s) are kept for the next start", jobs.waiting)
    application.stop_running()
