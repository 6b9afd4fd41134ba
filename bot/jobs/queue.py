"""A request's way into the durable queue and out of it: accepted and written down as a job,
queued fairly in the database, claimed by a worker of any replica (bot/jobs/runner.py runs it),
its lease kept while it runs, taken over when a replica is gone, and stopped on request.
Handlers hand requests in and return at once; jobs outlive a restart."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import i18n, texts
from bot.domain import Order, Outcome, Stopped
from bot.jobs.ledger import Ending, Ledger
from bot.jobs.model import Job, JobOptions, NewJob, Requester
from bot.jobs.policy import Policy
from bot.jobs.ports import Clock, JobStore, Notes, Replies, system_clock
from bot.jobs.runner import JOBS_CHANNEL, Lease, Runner, tell_replicas
from bot.jobs.variants import fit_to_model
from bot.jobs.workers import POLL_SECONDS, Workers
from bot.lineup.catalog import estimated_price
from bot.ops.metrics import Metrics
from bot.upstream import ImageService, TextService

log = logging.getLogger(__name__)

STOP_CHANNEL = "bot_stop"  # payload: a job id to stop, wherever it runs
# A running job's lease is renewed this many times within its length.
RENEWALS_PER_LEASE = 3
# How often this replica looks for stops asked while its jobs run (NOTIFY may come sooner).
STOP_POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Submission:
    """What a handler hands in: who asks, what for, and the `file_id`s of the input images."""

    who: Requester
    order: Order
    output_format: str
    file_ids: tuple[str, ...] = ()
    options: JobOptions = dataclasses.field(default_factory=JobOptions)


class JobQueue:
    def __init__(
        self,
        *,
        replies: Replies,
        notes: Notes,
        store: JobStore,
        policy: Policy,
        images: ImageService,
        words: TextService,
        capacity: int,
        keep_prompts: bool,
        lease: Lease,
        metrics: Metrics | None = None,
        max_turns: int = 6,
        clock: Clock = system_clock,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._replies = replies
        self._notes = notes
        self._store = store
        self._policy = policy
        self._capacity = capacity  # in all replicas together: claims count every one's jobs
        self._keep_prompts = keep_prompts
        self._lease = lease
        self._clock = clock
        self._ledger = Ledger(store, metrics)
        self._runner = Runner(
            store=store,
            ledger=self._ledger,
            replies=replies,
            notes=notes,
            images=images,
            words=words,
            lease=lease,
            clock=clock,
            metrics=metrics,
            max_turns=max_turns,
        )
        self._runs = self._runner.runs
        # With nothing to claim, idle workers look again this often even without a wake-up.
        self._workers = Workers(capacity, self._claim, self._runner.run, poll_seconds)
        self._leases: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return self._notes.waiting_jobs

    @property
    def generating(self) -> int:
        return self._workers.generating

    # ---- in --------------------------------------------------------------------------------
    async def submit(self, submission: Submission) -> int:
        """Write the request down as a job and queue it (LimitReached if it may not go ahead);
        its answer comes from a worker. A job that has to wait gets a queue note."""
        who, order, images = (
            submission.who,
            fit_to_model(submission.order),
            submission.options.images,
        )
        job = NewJob(
            who=who,
            order=order,
            output_format=submission.output_format,
            file_ids=submission.file_ids,
            estimated_cost_usd=estimated_price(order.model, order.image_size) * images,
            created_at=self._policy.now(),
            keep_prompt=self._keep_prompts,
            options=submission.options,
        )
        job_id = await self._policy.admit(
            who,
            lambda store, funding: store.open_job(dataclasses.replace(job, funding=funding)),
            images,
            cost_usd=job.estimated_cost_usd,
        )
        # An inline job's message says "Drawing" already, and its chat may be closed to the bot.
        if job.options.inline_message_id is None:
            self._notes.waiting(job_id, who.chat_id, who.message_id, who.language)
        self._workers.wake()
        await tell_replicas(self._store, self._lease, JOBS_CHANNEL)
        return job_id

    async def owner(self, job_id: int) -> Requester | None:
        """Who asked for `job_id`, while it is open; None once it was answered (or never was)."""
        job = await self._store.job(job_id)
        return job.who if job is not None and job.outcome.open else None

    async def cancel(self, chat_id: int, user_id: int | None) -> Stopped:
        """Stop the user's queued and running jobs in this chat: NOTHING if there were none, PAID
        if one had been sent upstream already (it counts, though stopped), else FREE."""
        ids = await self._store.open_job_ids(chat_id, user_id)
        return max([await self.cancel_job(job_id) for job_id in ids], default=Stopped.NOTHING)

    async def cancel_job(self, job_id: int) -> Stopped:
        """Stop one job, queued or running; NOTHING if it is not (or no longer) to be stopped,
        PAID if its upstream call was made: the upstream bills it all the same, so it is counted
        at its estimate (bot/jobs/ledger.py)."""
        if job_id in self._runs.delivered:
            return Stopped.NOTHING
        if (job := await self._store.take_queued(job_id, self._lease.worker)) is not None:
            await self._runner.close(job, Ending(Outcome.CANCELLED))
            return Stopped.FREE
        if self._workers.stop(job_id, Outcome.CANCELLED):
            return Stopped.PAID if job_id in self._runs.sent else Stopped.FREE
        # Running in another replica: it stops the job when it hears of it.
        if (sent := await self._store.request_stop(job_id, Outcome.CANCELLED)) is not None:
            await tell_replicas(self._store, self._lease, STOP_CHANNEL, str(job_id))
            return Stopped.PAID if sent else Stopped.FREE
        return Stopped.NOTHING

    # ---- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Take up what a replica left: jobs it was running whose upstream call was never made
        are queued again; those that were running upstream are answered as interrupted, since
        the upstream may have done (and billed) them. At start that is this replica's own from
        before a restart (with SQLite: every running job), later those whose lease ran out."""
        await self._store.listen(JOBS_CHANNEL, lambda _: self._workers.wake())
        await self._store.listen(STOP_CHANNEL, self._stop_asked)
        forever = self._clock() + timedelta(days=3650)
        resumed = await self._take_over(forever if self._lease.exclusive else None, own=True)
        if resumed:
            log.warning("%d job(s) left by the last run are queued again", resumed)
        self._notes.start()
        self._workers.start()
        self._leases = asyncio.create_task(self._keep_leases())

    async def drain(self, grace_seconds: float) -> int:
        """At shutdown: no new turns; running jobs get `grace_seconds`, then are interrupted
        (queued again if their upstream call was not made yet). Queued jobs stay queued for the
        next run. How many were interrupted."""
        interrupted = await self._workers.drain(grace_seconds)
        await self._runner.settle()
        if self._leases:
            self._leases.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leases
        await self._notes.stop()
        await self._ledger.record_unrecorded()
        return interrupted

    async def _claim(self, up_to: int) -> list[Job]:
        """Up to so many next jobs in fair order, now this replica's; none if none waits or
        every generation slot (in all replicas) is taken."""
        lease_until = self._clock() + self._lease.length
        return await self._store.claim(self._lease.worker, lease_until, self._capacity, up_to)

    # ---- leases ----------------------------------------------------------------------------
    async def _take_over(self, expired_before: datetime | None, *, own: bool) -> int:
        """Answer or queue again the running jobs of a replica that is gone (their lease ran
        out before `expired_before`, by default now); how many were queued again. `own`: at
        start, this replica's own from before a restart too."""
        now = self._clock()
        taken = await self._store.take_over(
            self._lease.worker, now + self._lease.length, expired_before or now, own=own
        )
        resumed = 0
        for job in taken:
            if self._workers.is_running(job.id):
                continue  # ours, its lease late in renewing
            if job.upstream_sent:
                # Closed first: should this replica lose the job in turn, it says nothing.
                if await self._runner.close(job, Ending(Outcome.INTERRUPTED)):
                    with i18n.speaking(job.who.language):
                        await self._replies.to(job).text(texts.INTERRUPTED())
                continue
            await self._store.requeue(job.id, job.attempt)
            resumed += 1
        if resumed:
            self._workers.wake()
        return resumed

    async def _keep_leases(self) -> None:
        """Renew the leases of this replica's running jobs, take over those of replicas that
        are gone, and stop the jobs another replica was asked to cancel."""
        loop = asyncio.get_running_loop()
        every = self._lease.length.total_seconds() / RENEWALS_PER_LEASE
        next_renewal = loop.time()
        while True:
            try:
                if loop.time() >= next_renewal:
                    await self._renew()
                    if taken := await self._take_over(None, own=False):
                        log.warning("%d job(s) of a replica that is gone are queued again", taken)
                    next_renewal = loop.time() + every
                if self._workers.running:
                    for job_id, reason in await self._store.stops(self._lease.worker):
                        self._stop(job_id, reason)
            except Exception as exc:
                log.error("could not keep the jobs' leases: %s", exc)
                if not self._lease.exclusive and loop.time() > self._runs.leased_until:
                    # Their leases ran out: other replicas may have taken them over.
                    for job_id in list(self._runs.attempts):
                        self._lose(job_id)
            await asyncio.sleep(min(STOP_POLL_SECONDS, every))

    async def _renew(self) -> None:
        """Renew this replica's leases, and stop the runs another replica took over meanwhile
        (this process was paused past their lease)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        runs = dict(self._runs.attempts)  # claimed before the renewal began: it must find each
        lease_until = self._clock() + self._lease.length
        held = set(await self._store.renew(self._lease.worker, lease_until))
        self._runs.leased_until = started + self._lease.length.total_seconds()
        for job_id, attempt in runs.items():
            if (job_id, attempt) not in held and self._runs.attempts.get(job_id) == attempt:
                self._lose(job_id)

    def _lose(self, job_id: int) -> None:
        self._runs.lost.add(job_id)
        self._workers.stop(job_id, Outcome.INTERRUPTED)

    def _stop_asked(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._stop(int(payload), Outcome.CANCELLED)

    def _stop(self, job_id: int, reason: Outcome) -> None:
        if job_id not in self._runs.delivered:
            self._workers.stop(job_id, reason)
