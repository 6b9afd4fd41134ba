"""The byte budget that bounds how much reply data is held at once."""

from __future__ import annotations

import asyncio

from bot.upstream.budget import ByteBudget


def _fresh(capacity: int) -> tuple[ByteBudget, list[int], asyncio.Event]:
    return ByteBudget(capacity), [], asyncio.Event()


async def _enter(budget: ByteBudget, size: int, inside: list[int], leave: asyncio.Event) -> None:
    async with budget.hold(size):
        inside.append(size)
        await leave.wait()
    inside.remove(size)


async def test_holders_share_the_capacity_and_the_rest_wait() -> None:
    budget, inside, leave = _fresh(100)
    tasks = [asyncio.create_task(_enter(budget, size, inside, leave)) for size in (40, 40, 40)]
    await asyncio.sleep(0.05)
    assert inside == [40, 40] and budget.held == 80  # the third would pass 100
    leave.set()
    await asyncio.gather(*tasks)
    assert inside == [] and budget.held == 0


async def test_a_holder_larger_than_the_capacity_enters_alone() -> None:
    budget, inside, leave = _fresh(100)
    small = asyncio.create_task(_enter(budget, 10, inside, leave))
    await asyncio.sleep(0.01)
    huge = asyncio.create_task(_enter(budget, 500, inside, leave))
    await asyncio.sleep(0.05)
    assert inside == [10]
    leave.set()
    await asyncio.gather(small, huge)
    assert budget.held == 0


async def test_a_cancelled_waiter_takes_nothing() -> None:
    budget, inside, leave = _fresh(100)
    first = asyncio.create_task(_enter(budget, 100, inside, leave))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(_enter(budget, 50, inside, leave))
    await asyncio.sleep(0.01)
    waiting.cancel()
    leave.set()
    await first
    assert budget.held == 0 and inside == []
