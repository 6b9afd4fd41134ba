"""Each Telegram update handled once: a webhook update Telegram sends again (it got no answer in
time, or a replica died before answering) stops here, whichever replica it reaches."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.services import BotContext

log = logging.getLogger(__name__)

# Telegram gives up redelivering long before this; older update ids are forgotten.
REMEMBERED = timedelta(days=1)
FORGET_EVERY_SECONDS = 600.0


class Once:
    """The first handler of all, in webhook mode (polling's offset already hands each update out
    once). A database that cannot record the update lets it through: better twice than never."""

    def __init__(self) -> None:
        self._forgotten_at = time.monotonic()

    async def __call__(self, update: Update, context: BotContext) -> None:
        services = context.services
        if not services.settings.server.webhook_url:
            return
        now = datetime.now(UTC)
        try:
            first = await services.storage.first_sight(update.update_id, now)
            if time.monotonic() - self._forgotten_at > FORGET_EVERY_SECONDS:
                self._forgotten_at = time.monotonic()
                await services.storage.forget_updates(now - REMEMBERED)
        except Exception as exc:
            log.warning("could not record update %d as seen: %s", update.update_id, exc)
            return
        if not first:
            log.info("update %d was handled already; dropped", update.update_id)
            raise ApplicationHandlerStop
