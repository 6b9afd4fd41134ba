"""Forgetting stored requests: once REQUEST_RETENTION_DAYS have passed, a periodic task clears
what a request kept to be run again (prompt, input and result files); its ledger line stays."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from bot.store.jobs import Jobs

log = logging.getLogger(__name__)

# Requests pass their retention at any moment; an hour late is close enough.
INTERVAL_SECONDS = 3600.0


class Retention:
    def __init__(
        self, storage: Jobs, days: int, interval_seconds: float = INTERVAL_SECONDS
    ) -> None:
        self._storage = storage
        self._keep = timedelta(days=days)
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_forgetting())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def forget(self) -> int:
        """Clear the requests past their retention now; how many."""
        return await self._storage.forget_requests(datetime.now(UTC) - self._keep)

    async def _keep_forgetting(self) -> None:
        # The first pass at start: a bot stopped for a week has its backlog cleared at once.
        while True:
            try:
                if forgotten := await self.forget():
                    log.info("cleared %d stored request(s) past their retention", forgotten)
            except Exception:
                log.exception("clearing stored requests past their retention failed")
            await asyncio.sleep(self._interval)
