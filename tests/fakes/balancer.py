"""Telegram in webhook mode behind a load balancer: each update is posted to the next replica's
webhook, and one a replica does not take (it is down, or answers an error) goes to the next, as
Telegram's redelivery through the proxy would. Like Telegram (its webhook `max_connections`
defaults to 40), it posts up to 40 updates at once."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx

SECRET = "replicas-secret"
PATH = "telegram"
MAX_CONNECTIONS = 40


class Balancer:
    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self._next = itertools.cycle(range(len(ports)))
        self._client = httpx.AsyncClient(
            timeout=10, limits=httpx.Limits(max_connections=MAX_CONNECTIONS)
        )
        self._connections = asyncio.Semaphore(MAX_CONNECTIONS)
        self._posting: set[asyncio.Task[None]] = set()
        self.posted: list[tuple[int, int]] = []  # (update_id, port) for each post a replica took
        self.delivered: list[dict[str, Any]] = []  # the updates, once a replica took each

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/{PATH}"

    async def __call__(self, update: dict[str, Any]) -> None:
        """Hand `update` over to be posted; returns once a connection is free for it."""
        await self._connections.acquire()
        task = asyncio.create_task(self._deliver(update))
        self._posting.add(task)
        task.add_done_callback(self._posted)

    def _posted(self, task: asyncio.Task[None]) -> None:
        self._posting.discard(task)
        self._connections.release()

    async def _deliver(self, update: dict[str, Any]) -> None:
        for _ in range(len(self.ports) * 20):
            port = self.ports[next(self._next)]
            if await self.post(port, update):
                self.delivered.append(update)
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no replica took update {update['update_id']}")

    async def post(self, port: int, update: dict[str, Any]) -> bool:
        """Post `update` to one replica's webhook; whether it took it."""
        try:
            response = await self._client.post(
                self.url(port), json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
        except httpx.HTTPError:
            return False
        if response.status_code == 200:
            self.posted.append((update["update_id"], port))
            return True
        return False

    async def aclose(self) -> None:
        if self._posting:
            await asyncio.wait(self._posting)
        await self._client.aclose()
