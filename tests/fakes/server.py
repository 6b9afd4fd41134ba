"""Serving an aiohttp application on a free port of 127.0.0.1, for the fakes."""

from __future__ import annotations

from aiohttp import web


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """The running server and its root URL; `runner.cleanup()` stops it."""
    # Handlers still waiting (long polls, hanging replies) are cut off at shutdown, not awaited.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
