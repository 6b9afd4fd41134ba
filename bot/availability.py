"""Which configured models Eden still lists: read at start and every few hours, so that a model
that disappears shows in /healthz and in the log, and /model stops offering it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.upstream import UpstreamError

log = logging.getLogger(__name__)

# Eden retires and renames models on Google's schedule (months), not by the minute.
REFRESH_SECONDS = 6 * 3600.0


class ModelAvailability:
    """The configured models missing from Eden's list. Until the list has been read, or when
    reading it fails, nothing counts as missing: a failed look-up must not hide every model."""

    def __init__(
        self,
        list_models: Callable[[], Awaitable[list[str]]],
        configured: tuple[str, ...],
        interval: float = REFRESH_SECONDS,
    ) -> None:
        self._list_models = list_models
        self._configured = configured
        self._interval = interval
        self.missing: frozenset[str] = frozenset()
        self._task: asyncio.Task[None] | None = None

    def offered(self) -> tuple[str, ...]:
        """The configured models still listed, the default first; all of them if none is (the
        default then stays, and its requests get the operator-facing error)."""
        listed = tuple(m for m in self._configured if m not in self.missing)
        return listed or self._configured

    def status(self) -> str:
        """For /healthz: "ok", or which models Eden no longer lists."""
        if not self.missing:
            return "ok"
        return "not in Eden's model list: " + ", ".join(sorted(self.missing))

    async def refresh(self) -> None:
        try:
            listed = await self._list_models()
        except UpstreamError as exc:
            log.warning("could not read Eden's model list (%s); keeping the last answer", exc)
            return
        if not listed:
            return  # an empty list says more about the listing than about the models
        known = {name.lower() for name in listed}
        missing = frozenset(m for m in self._configured if m.lower() not in known)
        for model in sorted(missing - self.missing):
            log.warning(
                "%s is not in Eden's model list (retired or renamed?): /model no longer offers "
                "it; choose another in EDENAI_MODEL / ALLOWED_MODELS (`python -m bot check`)",
                model,
            )
        for model in sorted(self.missing - missing):
            log.warning("%s is in Eden's model list again", model)
        self.missing = missing

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_refreshing())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _keep_refreshing(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval)
