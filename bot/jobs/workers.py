"""The workers of this process: while one of its `capacity` slots is free they claim the next job
from the shared queue, run each in a task of its own, and know which job runs in which task, to
stop one (/cancel) or all (shutdown)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.domain import Outcome
from bot.jobs.model import Job

log = logging.getLogger(__name__)


class Slot:
    """One of the `capacity` generation slots, held by a job from its start until the upstream
    has answered (the upload to Telegram does not need one); `release` may come early."""

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back = give_back
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._give_back()


Claim = Callable[[int], Awaitable[list[Job]]]  # up to so many jobs, or none
Run = Callable[[Job, Slot], Awaitable[None]]
# With nothing to claim, look again this often even without a wake-up (one from another replica
# may be lost with its connection).
POLL_SECONDS = 1.0
# Jobs claimed in one trip at most, when as many slots are free: a burst starts sooner.
CLAIM_BATCH = 16


def stop_reason(stop: asyncio.CancelledError) -> Outcome | None:
    """Why `Workers.stop` cancelled a job (CANCELLED or INTERRUPTED); None for any other
    cancellation, which must propagate."""
    reason = stop.args[0] if stop.args else None
    return Outcome(reason) if reason in (Outcome.CANCELLED, Outcome.INTERRUPTED) else None


class Workers:
    def __init__(
        self, capacity: int, claim: Claim, run: Run, poll_seconds: float = POLL_SECONDS
    ) -> None:
        self._capacity = capacity
        self._slots = asyncio.Semaphore(capacity)
        self._claim = claim
        self._run = run
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        # The last claim found fewer jobs than it asked for: none is left to claim until a
        # wake-up (a job queued, a slot freed elsewhere) or the next poll.
        self._exhausted = False
        self._held = 0
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def generating(self) -> int:
        """Jobs holding a generation slot."""
        return self._held

    @property
    def running(self) -> int:
        """Jobs this process runs, generating or uploading."""
        return len(self._tasks)

    def is_running(self, job_id: int) -> bool:
        return job_id in self._tasks

    def wake(self) -> None:
        """A job was queued, or a slot freed, somewhere: look for work now."""
        self._wake.set()

    def start(self) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch())

    async def _dispatch(self) -> None:
        while True:
            await self._slots.acquire()
            held = 1
            # The slots free right now too (acquiring a free one does not wait).
            while held < CLAIM_BATCH and not self._slots.locked():
                await self._slots.acquire()
                held += 1
            try:
                jobs = await self._next(held)
            except asyncio.CancelledError:
                for _ in range(held):
                    self._slots.release()
                raise
            for _ in range(held - len(jobs)):
                self._slots.release()
            for job in jobs:
                self._held += 1
                slot = Slot(self._give_back)
                self._tasks[job.id] = asyncio.create_task(self._carry_out(job, slot))
            self._idle.clear()

    async def _next(self, up_to: int) -> list[Job]:
        while True:
            if self._exhausted:
                # asyncio.timeout, not wait_for: in Python 3.11 wait_for swallows a cancellation
                # that comes as the event is set (a shutdown as a job closes), and drain hung.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_seconds):
                        await self._wake.wait()
            # Cleared before claiming: a wake-up that comes meanwhile is not lost.
            self._wake.clear()
            try:
                jobs = await self._claim(up_to)
            except Exception as exc:
                log.error("could not claim a job: %s", exc)
                jobs = []
            self._exhausted = len(jobs) < up_to
            if jobs:
                return jobs

    def _give_back(self) -> None:
        self._held -= 1
        self._slots.release()

    async def _carry_out(self, job: Job, slot: Slot) -> None:
        try:
            await self._run(job, slot)
        except Exception:
            log.exception("job %d failed unexpectedly", job.id)
        finally:
            slot.release()
            # A run taken over may end after this process claimed the job again.
            if self._tasks.get(job.id) is asyncio.current_task():
                del self._tasks[job.id]
            if not self._tasks:
                self._idle.set()

    def stop(self, job_id: int, reason: Outcome) -> bool:
        """Cancel a running job with `reason` (see stop_reason); False if it is not running."""
        task = self._tasks.get(job_id)
        if task is None:
            return False
        task.cancel(reason.value)
        return True

    async def drain(self, grace_seconds: float) -> int:
        """Take no more jobs; give the running ones `grace_seconds`, then interrupt the rest.
        How many were interrupted."""
        if self._dispatcher:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self._idle.wait()
        left = list(self._tasks)
        for job_id in left:
            self.stop(job_id, Outcome.INTERRUPTED)
        if tasks := list(self._tasks.values()):
            await asyncio.wait(tasks, timeout=10)
        return len(left)
