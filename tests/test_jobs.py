"""The queue core in-process: the real job queue and runner, workers, policy, ledger and store (SQLite and
PostgreSQL), with a fake clock, fake replies, fake notes and a fake image service in place of
Telegram and Eden. No subprocess, no HTTP: each test runs in well under a second."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bot import texts
from bot.config import AccessSettings
from bot.domain import (
    ImageRequest,
    ImageResult,
    Order,
    Outcome,
    Picture,
    Stopped,
    TextRequest,
    TextResult,
)
from bot.imaging import inspect
from bot.jobs.ledger import Ending, Ledger
from bot.jobs.model import Closing, Job, Requester
from bot.jobs.policy import Policy
from bot.jobs.ports import Delivered
from bot.jobs.queue import JobQueue, Submission
from bot.jobs.runner import Lease
from bot.jobs.workers import Slot, Workers
from bot.ops.metrics import Metrics
from bot.store.jobs import Jobs
from bot.store.storage import Storage
from bot.upstream.errors import ProviderError
from tests.conftest import OpenStore
from tests.fakes.images import png
from tests.test_databases import LATER, NOW, _job

ALICE_ID = 11
ALICE = Requester(user_id=ALICE_ID, chat_id=ALICE_ID, message_id=100)
ORDER = Order("a fox in the snow", "google/gemini-nano-banana-2.1", "16:9", "1K")
LEASE_SECONDS = 60.0
PICTURE = inspect(png(1376, 768))


class Clock:
    """The wall clock the queue core and the policy read; it moves only when a test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Said:
    """What one job's user was shown."""

    texts: list[str] = field(default_factory=list)
    results: list[tuple[int, str]] = field(default_factory=list)  # (pictures, caption)


class FakeAnswer:
    def __init__(self, said: Said) -> None:
        self._said = said

    async def text(self, text: str) -> None:
        self._said.texts.append(text)

    def uploading(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def result(
        self, pictures: Sequence[Picture], caption: str, *, as_file: bool
    ) -> Delivered:
        self._said.results.append((len(pictures), caption))
        return Delivered("result-file", 500, as_photo=not as_file)

    async def words(self, text: str) -> None:
        self._said.texts.append(text)


class FakeReplies:
    def __init__(self) -> None:
        self.said: dict[int, Said] = {}

    def to(self, job: Job) -> FakeAnswer:
        return FakeAnswer(self.said.setdefault(job.id, Said()))

    async def fetch(self, file_id: str) -> Picture:
        return PICTURE


class FakeNotes:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    @property
    def waiting_jobs(self) -> int:
        return 0

    def waiting(self, job_id: int, chat_id: int, reply_to: int | None, language: str) -> None:
        self.events.append(("waiting", job_id))

    def started(self, job: Job) -> None:
        self.events.append(("started", job.id))

    def finished(self, job: Job) -> None:
        self.events.append(("finished", job.id))

    def shown(self, job_id: int) -> bool:
        return False

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class FakeImages:
    """Makes PICTURE for each request; while `held` is clear, holds the answer back."""

    def __init__(self) -> None:
        self.requests: list[ImageRequest] = []
        self.held = asyncio.Event()
        self.held.set()

    @contextlib.asynccontextmanager
    async def generate(self, request: ImageRequest) -> AsyncIterator[ImageResult]:
        self.requests.append(request)
        await self.held.wait()
        yield ImageResult(PICTURE, cost_usd=0.05)

    async def aclose(self) -> None:
        pass


class NoWords:
    async def complete(self, request: TextRequest) -> TextResult:
        raise AssertionError("no text job here")


@dataclass
class Replica:
    jobs: JobQueue
    replies: FakeReplies
    notes: FakeNotes
    storage: Storage
    metrics: Metrics


async def _replica(
    open_store: OpenStore,
    clock: Clock,
    images: FakeImages,
    name: str,
    *,
    exclusive: bool,
    capacity: int = 4,
    poll_seconds: float = 1.0,
) -> Replica:
    storage = await open_store()
    replies, notes = FakeReplies(), FakeNotes()
    settings = AccessSettings.model_validate({"allow_everyone": True})
    metrics = Metrics()
    jobs = JobQueue(
        replies=replies,
        notes=notes,
        store=storage,
        policy=Policy(settings, storage, clock=clock),
        images=images,
        words=NoWords(),
        capacity=capacity,
        keep_prompts=False,
        lease=Lease(worker=name, length=timedelta(seconds=LEASE_SECONDS), exclusive=exclusive),
        clock=clock,
        metrics=metrics,
        poll_seconds=poll_seconds,
    )
    await jobs.start()
    return Replica(jobs, replies, notes, storage, metrics)


async def _until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait (in real time, for the queue's tasks to run) until `condition()` holds."""
    async with asyncio.timeout(timeout):
        # Polling: what is watched belongs to the code under test, which signals nothing.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def _closed(storage: Storage, job_id: int) -> Job:
    job = None
    async with asyncio.timeout(5):
        while job is None or job.outcome.open:
            await asyncio.sleep(0.005)
            job = await storage.job(job_id)
    return job


async def _upstream_working(
    open_store: OpenStore, *, exclusive: bool
) -> tuple[Clock, FakeImages, Replica, int]:
    """Replica "one" with Alice's job in its upstream call, which holds until `images.held`."""
    clock, images = Clock(), FakeImages()
    images.held.clear()
    one = await _replica(open_store, clock, images, "one", exclusive=exclusive)
    job_id = await one.jobs.submit(Submission(ALICE, ORDER, "photo"))
    await _until(lambda: images.requests)
    return clock, images, one, job_id


async def test_a_job_is_run_delivered_and_booked_once_on_the_injected_clock(
    open_store: OpenStore,
) -> None:
    clock, images, one, job_id = await _upstream_working(open_store, exclusive=True)
    clock.advance(7.5)  # the upstream takes 7.5 s of the clock
    images.held.set()
    job = await _closed(one.storage, job_id)
    await one.jobs.drain(1)

    [request] = images.requests
    assert (request.prompt, request.model, request.aspect_ratio, request.image_size) == (
        "a fox in the snow",
        "google/gemini-nano-banana-2.1",
        "16:9",
        "1K",
    )
    said = one.replies.said[job_id]
    assert said.texts == []
    [(pictures, caption)] = said.results
    assert pictures == 1 and caption.startswith("a fox in the snow")
    assert one.notes.events == [("waiting", job_id), ("started", job_id), ("finished", job_id)]
    assert (job.outcome, job.result_file_id) == (Outcome.OK, "result-file")
    spent = await one.storage.spend(ALICE_ID, clock.now - timedelta(days=1))
    assert spent.images == 1
    assert round(spent.cost_usd, 4) == 0.05  # Eden's reported cost, not the estimate


async def test_a_cancel_during_the_upstream_call_is_paid_and_nothing_is_delivered(
    open_store: OpenStore,
) -> None:
    clock, images, one, job_id = await _upstream_working(open_store, exclusive=True)
    assert await one.jobs.cancel(ALICE_ID, ALICE_ID) is Stopped.PAID
    job = await _closed(one.storage, job_id)
    images.held.set()
    await one.jobs.drain(1)
    assert job.outcome is Outcome.CANCELLED
    assert one.replies.said.get(job_id, Said()).results == []
    spent = await one.storage.spend(ALICE_ID, clock.now - timedelta(days=1))
    # The upstream bills it all the same: it counts at its estimate (Nano Banana 2.1 at 1K).
    assert round(spent.cost_usd, 4) == 0.0336


@pytest.mark.postgresql_only
async def test_a_run_taken_over_by_another_replica_neither_answers_nor_charges(
    open_store: OpenStore,
) -> None:
    """Replica one holds the job while the upstream works, and the clock passes its lease (the
    process was paused): replica two takes the job over and tells the user it was interrupted;
    the upstream's picture, when it comes to replica one, is neither delivered nor charged."""
    clock, images, one, job_id = await _upstream_working(open_store, exclusive=False)
    clock.advance(2 * LEASE_SECONDS)
    two = await _replica(open_store, clock, images, "two", exclusive=False)
    await _closed(two.storage, job_id)
    assert two.replies.said[job_id].texts == [texts.INTERRUPTED()]

    images.held.set()  # the paused replica's upstream call returns
    await one.jobs.drain(5)
    await two.jobs.drain(1)
    assert one.replies.said[job_id].results == []
    assert one.replies.said[job_id].texts == []
    after = await one.storage.job(job_id)
    assert after is not None and after.outcome is Outcome.INTERRUPTED
    spent = await one.storage.spend(ALICE_ID, clock.now - timedelta(days=1))
    assert spent.images == 0 and spent.cost_usd == 0


async def test_a_shutdown_as_a_job_is_queued_elsewhere_stops_the_workers() -> None:
    """SIGTERM as a NOTIFY wakes the idle workers (a job closing, here or in a replica): the stop
    must not be lost in the wake-up, or the shutdown waits until the container is killed."""
    claims: list[int] = []

    async def claim(up_to: int) -> list[Job]:
        claims.append(up_to)
        return []

    async def run(job: Job, slot: Slot) -> None:
        raise AssertionError("nothing was queued")

    workers = Workers(2, claim, run, poll_seconds=60)
    workers.start()
    await _until(lambda: claims)  # it has looked, found nothing and waits to be woken
    workers.wake()
    drain = asyncio.create_task(workers.drain(0))
    await asyncio.wait([drain], timeout=5)
    assert drain.done(), "the workers did not stop"
    assert drain.result() == 0


async def test_a_picture_costs_the_database_a_handful_of_round_trips(
    open_store: OpenStore, backend: str
) -> None:
    """Admitted (the user's allowance read in one statement, the job written), claimed, its slot
    given back when the picture came, closed with its result: five statements on SQLite, and on
    PostgreSQL the admission's and the claim's transactions, each with its lock. One more if the
    lease keeper looks for stops while the job runs (each second)."""
    clock, images = Clock(), FakeImages()
    one = await _replica(open_store, clock, images, "one", exclusive=True)
    await asyncio.sleep(0.1)  # the lease keeper's first look, at start
    before = one.storage.round_trips
    job_id = await one.jobs.submit(Submission(ALICE, ORDER, "photo"))
    await _until(lambda: ("finished", job_id) in one.notes.events)
    trips = one.storage.round_trips - before
    await one.jobs.drain(1)
    assert trips <= {"sqlite": 5, "postgresql": 11}[backend] + 1


async def test_jobs_closing_together_are_each_written_and_reported_once(
    open_store: OpenStore,
) -> None:
    """Twenty pictures come at once: each job's line is written once, and each is logged and
    counted (a closing used to write every other pending closing too, and then took the
    other's write for a take-over: quadratic writes, and requests missing from the metrics)."""
    clock, images = Clock(), FakeImages()
    images.held.clear()
    one = await _replica(open_store, clock, images, "one", exclusive=True, capacity=20)
    users = [Requester(user_id=1000 + i, chat_id=1000 + i, message_id=100) for i in range(20)]
    ids = [await one.jobs.submit(Submission(who, ORDER, "photo")) for who in users]
    await _until(lambda: len(images.requests) == len(ids))
    before = one.storage.round_trips
    images.held.set()
    await _until(lambda: sum(event == "finished" for event, _ in one.notes.events) == len(ids))
    closing_trips = one.storage.round_trips - before
    await one.jobs.drain(1)
    # Each: its slot given back and its closing (and a look for stops now and then).
    assert closing_trips <= 2 * len(ids) + 5
    counted = one.metrics.registry.get_sample_value("bot_requests_total", {"outcome": "ok"})
    assert counted == len(ids)


class FailingFirst(FakeImages):
    """Eden down for the first request (a 503), working for the next ones."""

    @contextlib.asynccontextmanager
    async def generate(self, request: ImageRequest) -> AsyncIterator[ImageResult]:
        if not self.requests:
            self.requests.append(request)
            raise ProviderError("unavailable", status=503)
        async with super().generate(request) as result:
            yield result


async def test_a_failed_jobs_slot_goes_at_once_to_the_next_job(open_store: OpenStore) -> None:
    """One slot, two jobs; the first fails: the second is claimed as soon as the first is
    closed, not at the workers' next look (an hour away here: it used to wait for it)."""
    clock, images = Clock(), FailingFirst()
    one = await _replica(
        open_store, clock, images, "one", exclusive=True, capacity=1, poll_seconds=3600
    )
    bob = Requester(user_id=12, chat_id=12, message_id=101)
    first = await one.jobs.submit(Submission(ALICE, ORDER, "photo"))
    second = await one.jobs.submit(Submission(bob, ORDER, "photo"))
    await _until(lambda: ("finished", second) in one.notes.events)
    await one.jobs.drain(1)
    assert one.replies.said[first].texts and one.replies.said[second].results


class Stalling:
    """The store, with its next closing write held until `go` is set."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.go = asyncio.Event()
        self.writing = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    async def close_request(self, closing: Closing) -> bool:
        self.writing.set()
        await self.go.wait()
        return await self._storage.close_request(closing)


async def test_a_closing_cancelled_while_written_is_written_at_the_drain(
    open_store: OpenStore,
) -> None:
    """A shutdown cancels a closing in the middle of its write: it is kept, and the drain's last
    pass writes it (it used to be dropped, the job left open, then answered "interrupted" at the
    next start: a delivered picture unpaid)."""
    storage = await open_store()
    job_id = await storage.open_job(_job(7))
    [job] = await storage.claim("one", LATER, 5)
    stalling = Stalling(storage)
    ledger = Ledger(cast(Jobs, stalling))
    closing = asyncio.create_task(ledger.close(job, Ending(Outcome.OK, 0.05), 1.0))
    await stalling.writing.wait()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    stalling.go.set()
    await ledger.record_unrecorded()
    closed = await storage.job(job_id)
    assert closed is not None and closed.outcome is Outcome.OK
    assert round((await storage.spend(7, NOW)).cost_usd, 4) == 0.05
