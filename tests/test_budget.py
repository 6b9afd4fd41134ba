"""The byte budget that bounds how much reply data is held at once."""

from __future__ import annotations

import asyncio

from bot.upstream.budget import ByteBudget


class Holders:
    """Tasks that each hold a size of one budget until `leave` is set, noting who was inside
    with them when they entered."""

    def __init__(self, capacity: int) -> None:
        self.budget = ByteBudget(capacity)
        self.inside: list[int] = []
        self.entries: list[list[int]] = []
        self.leave = asyncio.Event()

    def start(self, size: int) -> asyncio.Task[None]:
        return asyncio.create_task(self._hold(size))

    async def _hold(self, size: int) -> None:
        async with self.budget.hold(size):
            self.inside.append(size)
            self.entries.append(list(self.inside))
            await self.leave.wait()
            self.inside.remove(size)


async def test_holders_share_the_capacity_and_the_rest_wait() -> None:
    holders = Holders(100)
    tasks = [holders.start(40) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert holders.inside == [40, 40]  # the third would pass 100
    holders.leave.set()
    await asyncio.gather(*tasks)
    assert holders.entries[-1] == [40] and holders.budget.held == 0


async def test_a_holder_larger_than_the_capacity_enters_alone() -> None:
    holders = Holders(100)
    small = holders.start(10)
    await asyncio.sleep(0.01)
    huge = holders.start(500)
    await asyncio.sleep(0.05)
    assert holders.inside == [10]
    holders.leave.set()
    await asyncio.gather(small, huge)
    assert holders.entries == [[10], [500]] and holders.budget.held == 0


async def test_a_cancelled_waiter_takes_nothing() -> None:
    holders = Holders(100)
    first = holders.start(100)
    await asyncio.sleep(0.01)
    waiting = holders.start(50)
    await asyncio.sleep(0.01)
    waiting.cancel()
    holders.leave.set()
    await first
    assert holders.entries == [[100]] and holders.budget.held == 0
