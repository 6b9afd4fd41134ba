"""/healthz and /metrics over HTTP: whether the bot really works, and the numbers behind it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.ops.metrics import Metrics

log = logging.getLogger(__name__)

# Each check says "ok" or what is wrong; `required` ones decide the status code.
Checks = Callable[[], Awaitable[dict[str, str]]]


class Throttled:
    """A check that writes (the database's), run at most once per `interval` seconds: /healthz
    needs no credentials, so whoever reaches it must not be able to make the bot write at will.
    A pass holds for the interval; a failure is checked again on the next call."""

    def __init__(self, probe: Callable[[], Awaitable[None]], interval: float) -> None:
        self._probe = probe
        self._interval = interval
        self._passed_at: float | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            if self._passed_at is None or time.monotonic() - self._passed_at >= self._interval:
                await self._probe()
                self._passed_at = time.monotonic()


class HealthServer:
    def __init__(
        self, checks: Checks, required: tuple[str, ...], metrics: Metrics, listen: str, port: int
    ) -> None:
        self._checks = checks
        self._required = required
        self._metrics = metrics
        self._listen = listen
        self._port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._listen, self._port).start()
        log.info(
            "health and metrics on http://%s:%d/healthz and /metrics", self._listen, self._port
        )

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        results = await self._checks()
        healthy = all(results.get(name) == "ok" for name in self._required)
        body = {"status": "ok" if healthy else "failing", "checks": results}
        return web.Response(
            text=json.dumps(body), status=200 if healthy else 503, content_type="application/json"
        )

    async def _metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._metrics.render(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )
