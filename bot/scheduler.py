"""A global cap on generations in flight, with a fair queue: chats take turns, so one busy group
cannot starve everyone else, and each waiting request knows how many are ahead of it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

OnWait = Callable[[int], Awaitable[None]]


@dataclass(eq=False)
class _Waiter:
    lane: int
    on_wait: OnWait
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    ahead: int = -1
    moved: asyncio.Event = field(default_factory=asyncio.Event)
    done: bool = False

    async def report_moves(self) -> None:
        """Calls on_wait with the latest position, one call at a time, skipping stale ones."""
        reported = None
        while True:
            await self.moved.wait()
            self.moved.clear()
            if self.done:
                return
            if self.ahead != reported:
                reported = self.ahead
                try:
                    await self.on_wait(reported)
                except Exception:
                    log.warning("could not report a queue position", exc_info=True)


class FairScheduler:
    """`async with scheduler.turn(chat_id, on_wait):` runs its block within the cap; while it
    waits, `on_wait(ahead)` is awaited whenever the number of requests ahead of it changes."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._running = 0
        # One queue per chat ("lane"), in round-robin order: the next turn goes to the first lane.
        self._lanes: OrderedDict[int, deque[_Waiter]] = OrderedDict()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    @contextlib.asynccontextmanager
    async def turn(self, lane: int, on_wait: OnWait) -> AsyncIterator[None]:
        if self._running < self._capacity and not self._lanes:
            self._running += 1
        else:
            await self._wait(_Waiter(lane, on_wait))
        try:
            yield
        finally:
            self._running -= 1
            self._grant_next()

    async def _wait(self, waiter: _Waiter) -> None:
        self._lanes.setdefault(waiter.lane, deque()).append(waiter)
        reporter = asyncio.create_task(waiter.report_moves())
        self._announce()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                # Cancelled just as the turn came: pass it on.
                self._running -= 1
                self._grant_next()
            else:
                self._remove(waiter)
                self._announce()
            raise
        finally:
            # Let a report in progress finish, so the caller knows of any message it sent.
            waiter.done = True
            waiter.moved.set()
            await asyncio.shield(reporter)

    def _grant_next(self) -> None:
        while self._running < self._capacity and self._lanes:
            lane, queue = next(iter(self._lanes.items()))
            waiter = queue.popleft()
            # The lane just served goes to the back of the round.
            del self._lanes[lane]
            if queue:
                self._lanes[lane] = queue
            self._running += 1
            waiter.granted.set_result(None)
        self._announce()

    def _remove(self, waiter: _Waiter) -> None:
        queue = self._lanes.get(waiter.lane)
        if queue and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._lanes[waiter.lane]

    def _order(self) -> list[_Waiter]:
        """Every waiter in the order it will be served: round-robin across the lanes."""
        lanes = [list(queue) for queue in self._lanes.values()]
        depth = max((len(lane) for lane in lanes), default=0)
        return [lane[i] for i in range(depth) for lane in lanes if i < len(lane)]

    def _announce(self) -> None:
        for ahead, waiter in enumerate(self._order()):
            if waiter.ahead != ahead:
                waiter.ahead = ahead
                waiter.moved.set()
