"""Which configured models Eden still lists: read at start and every few hours. A model that
disappears is replaced by the first of its successors Eden lists (models.toml), which shows in
/healthz and in the log; /model offers only what Eden lists."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.lineup.catalog import predecessors, successors
from bot.upstream import UpstreamError

log = logging.getLogger(__name__)

# Eden retires and renames models on Google's schedule (months), not by the minute.
REFRESH_SECONDS = 6 * 3600.0


def replacement_for(model: str, listed: frozenset[str], *, default: bool) -> str | None:
    """The model to use for the configured `model` given Eden's `listed` ids (lower case): itself
    if listed, else the first successor listed; for the default model, failing those, the
    newest model of its line that Eden lists (a model released before Eden serves it). None if
    none is listed."""
    candidates = [model, *successors(model), *(predecessors(model) if default else ())]
    return next((c for c in candidates if c.lower() in listed), None)


class ModelAvailability:
    """The configured models as Eden lists them: each one, or the model used in its place. Until
    the list has been read, or when reading it fails, every model stays as configured: a failed
    look-up must not hide every model."""

    def __init__(
        self,
        list_models: Callable[[], Awaitable[list[str]]],
        configured: tuple[str, ...],
        interval: float = REFRESH_SECONDS,
    ) -> None:
        self._list_models = list_models
        self._configured = configured  # the default first
        self._interval = interval
        # Configured models Eden does not list, and the model used for each (None: nothing in
        # its line is listed, so it stays and fails until the operator acts).
        self.replaced: dict[str, str | None] = {}
        self._task: asyncio.Task[None] | None = None

    def current(self, model: str) -> str:
        """The model that requests for `model` go to now."""
        return self.replaced.get(model) or model

    def offered(self) -> tuple[str, ...]:
        """The models a chat may use, the default first: each configured one Eden lists, or its
        replacement; all configured ones if none is listed (the default then stays, and its
        requests get the operator-facing error)."""
        usable = (self.current(m) for m in self._configured if self.replaced.get(m, m))
        return tuple(dict.fromkeys(usable)) or self._configured

    def notices(self) -> list[str]:
        """One line per configured model Eden does not list: what is used instead, or that the
        operator must act."""
        return [describe(old, new) for old, new in sorted(self.replaced.items())]

    def status(self) -> str:
        """For /healthz: "ok", or which models are replaced or missing."""
        return "; ".join(self.notices()) or "ok"

    async def refresh(self) -> None:
        try:
            listed = await self._list_models()
        except UpstreamError as exc:
            log.warning("could not read Eden's model list (%s); keeping the last answer", exc)
            return
        if not listed:
            return  # an empty list says more about the listing than about the models
        known = frozenset(name.lower() for name in listed)
        replaced: dict[str, str | None] = {}
        for index, model in enumerate(self._configured):
            used = replacement_for(model, known, default=index == 0)
            if used != model:
                replaced[model] = used
        for model in sorted(replaced):
            if model not in self.replaced or self.replaced[model] != replaced[model]:
                log.warning("%s", describe(model, replaced[model]))
        for model in sorted(set(self.replaced) - set(replaced)):
            log.warning("%s is in Eden's model list again", model)
        self.replaced = replaced

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


def describe(model: str, used: str | None) -> str:
    """The warning for a configured `model` Eden does not list."""
    if used is None:
        return (
            f"{model} is not in Eden's model list, nor is any model that replaces it: its "
            "requests fail until the operator chooses another in EDENAI_MODEL / ALLOWED_MODELS "
            "(`python -m bot check`)"
        )
    if used in successors(model):
        return (
            f"{model} is not in Eden's model list (retired or renamed): using its successor "
            f"{used} (write {used} in EDENAI_MODEL / ALLOWED_MODELS to silence this)"
        )
    return (
        f"{model} is not in Eden's model list (not yet served?): using {used}, the newest of "
        "its line that Eden lists"
    )
