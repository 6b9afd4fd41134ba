"""The fair scheduler: the cap, round-robin across chats, queue positions, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from bot.scheduler import FairScheduler


class Recorder:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.positions: dict[str, list[int]] = {}

    def on_wait(self, name: str):  # type: ignore[no-untyped-def]
        async def report(ahead: int) -> None:
            self.positions.setdefault(name, []).append(ahead)

        return report


async def _job(
    scheduler: FairScheduler, recorder: Recorder, lane: int, name: str, release: asyncio.Event
) -> None:
    async with scheduler.turn(lane, recorder.on_wait(name)):
        recorder.started.append(name)
        await release.wait()


async def test_the_cap_holds_and_chats_take_turns() -> None:
    scheduler, recorder = FairScheduler(capacity=1), Recorder()
    release = {name: asyncio.Event() for name in ("a1", "a2", "a3", "b1", "c1")}
    tasks = []
    # Chat 1 floods the queue first; chats 2 and 3 arrive later.
    for lane, name in [(1, "a1"), (1, "a2"), (1, "a3"), (2, "b1"), (3, "c1")]:
        tasks.append(asyncio.create_task(_job(scheduler, recorder, lane, name, release[name])))
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert recorder.started == ["a1"]
    assert scheduler.waiting == 4
    for name in ("a1", "a2", "b1", "c1", "a3"):
        release[name].set()
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    # Round-robin: after a1, chat 1 waits its turn behind chats 2 and 3.
    assert recorder.started == ["a1", "a2", "b1", "c1", "a3"]
    assert scheduler.running == 0


async def test_waiters_are_told_their_place_as_it_changes() -> None:
    scheduler, recorder = FairScheduler(capacity=1), Recorder()
    release = {name: asyncio.Event() for name in ("x", "a", "b", "c")}
    tasks = [asyncio.create_task(_job(scheduler, recorder, 1, "x", release["x"]))]
    for lane, name in [(1, "a"), (1, "b"), (2, "c")]:
        tasks.append(asyncio.create_task(_job(scheduler, recorder, lane, name, release[name])))
        await asyncio.sleep(0.01)
    # Queue order (round-robin): a (chat 1), c (chat 2), b (chat 1).
    assert recorder.positions == {"a": [0], "b": [1, 2], "c": [1]}
    release["x"].set()
    await asyncio.sleep(0.01)
    assert recorder.positions["c"][-1] == 0
    assert recorder.positions["b"][-1] == 1
    for name in ("a", "c", "b"):
        release[name].set()
    await asyncio.gather(*tasks)


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    scheduler, recorder = FairScheduler(capacity=1), Recorder()
    release = {name: asyncio.Event() for name in ("x", "a", "b")}
    running = asyncio.create_task(_job(scheduler, recorder, 1, "x", release["x"]))
    await asyncio.sleep(0.01)
    queued_a = asyncio.create_task(_job(scheduler, recorder, 2, "a", release["a"]))
    queued_b = asyncio.create_task(_job(scheduler, recorder, 3, "b", release["b"]))
    await asyncio.sleep(0.01)
    queued_a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued_a
    await asyncio.sleep(0.01)
    assert recorder.positions["b"] == [1, 0]
    release["x"].set()
    release["b"].set()
    await asyncio.gather(running, queued_b)
    assert recorder.started == ["x", "b"]
    assert scheduler.running == 0
    assert scheduler.waiting == 0


async def test_under_the_cap_nobody_waits() -> None:
    scheduler, recorder = FairScheduler(capacity=3), Recorder()
    release = asyncio.Event()
    tasks = [asyncio.create_task(_job(scheduler, recorder, 1, f"j{i}", release)) for i in range(3)]
    await asyncio.sleep(0.01)
    assert sorted(recorder.started) == ["j0", "j1", "j2"]
    assert recorder.positions == {}
    release.set()
    await asyncio.gather(*tasks)
