"""A request's way through the bot: accepted and written down as a job, queued fairly in the
database, claimed by a worker of any replica (its inputs, the upstream call, the delivery),
answered exactly once. Handlers hand requests in and return at once; jobs outlive a restart, and
a replica that dies has its jobs taken over when their lease runs out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import i18n, texts
from bot.decoding import InputRejected, prepare
from bot.domain import Order, Outcome, Picture, Stopped, Turn
from bot.fidelity import FidelityCheck
from bot.jobs.conversation import StoredTurn, earlier_turns
from bot.jobs.ledger import Ledger, NoPicture
from bot.jobs.model import Job, JobOptions, NewJob, Requester
from bot.jobs.policy import Policy
from bot.jobs.ports import Clock, JobAnswer, Notes, Replies, system_clock
from bot.jobs.variants import fit_to_model, make, total_cost, upstream_request
from bot.jobs.words import text_request
from bot.jobs.workers import Slot, Workers, stop_reason
from bot.lineup.catalog import capabilities_for, estimated_price
from bot.ops.metrics import Metrics
from bot.store.storage import Storage
from bot.upstream import ImageService, TextService, UpstreamError
from bot.upstream.errors import NoImageReturned

log = logging.getLogger(__name__)

# Replicas tell each other on these channels (SQLite: only this process listens).
JOBS_CHANNEL = "bot_jobs"  # a job was queued, or a generation slot freed
STOP_CHANNEL = "bot_stop"  # payload: a job id to stop, wherever it runs
# A running job's lease is renewed this many times within its length.
RENEWALS_PER_LEASE = 3
# How often this replica looks for stops asked while its jobs run (NOTIFY may come sooner).
STOP_POLL_SECONDS = 1.0


class LeaseLost(Exception):
    """This run of a job was taken over by another replica (this process was paused, or cut off
    from the database, past the job's lease): the other one answers and closes the job, so this
    run stops without a word."""


@dataclass(frozen=True, slots=True)
class Submission:
    """What a handler hands in: who asks, what for, and the `file_id`s of the input images."""

    who: Requester
    order: Order
    output_format: str
    file_ids: tuple[str, ...] = ()
    options: JobOptions = dataclasses.field(default_factory=JobOptions)


class Pipeline:
    def __init__(
        self,
        *,
        replies: Replies,
        notes: Notes,
        storage: Storage,
        policy: Policy,
        images: ImageService,
        words: TextService,
        capacity: int,
        keep_prompts: bool,
        worker: str,
        lease_seconds: float,
        exclusive: bool,
        metrics: Metrics | None = None,
        max_turns: int = 6,
        clock: Clock = system_clock,
    ) -> None:
        self._replies = replies
        self._notes = notes
        self._clock = clock
        self._storage = storage
        self._policy = policy
        self._images = images
        self._words = words
        self._capacity = capacity  # in all replicas together: claims count every one's jobs
        self._keep_prompts = keep_prompts
        self._worker = worker  # this replica's name on the jobs it runs
        self._lease = timedelta(seconds=lease_seconds)
        # The only process on its database (SQLite): every running job at start is its own.
        self._exclusive = exclusive
        self._metrics = metrics
        self._max_turns = max_turns  # of a conversation sent upstream, the request's own included
        self._ledger = Ledger(storage, metrics)
        self._fidelity = FidelityCheck(metrics)
        self._workers = Workers(capacity, self._claim, self._run)
        self._leases: asyncio.Task[None] | None = None
        # Jobs whose upstream call this run has made: interrupted, they are not run again.
        self._sent: set[int] = set()
        # Jobs whose picture the upstream has made (and billed): it is delivered whatever comes,
        # so a Cancel tap from now on is too late.
        self._delivered: set[int] = set()
        # The runs of this process, until they close: whose lease each renewal must find.
        self._runs: dict[int, int] = {}  # job id -> attempt
        # Runs found taken over, stopped without a word.
        self._lost: set[int] = set()
        # Until when (loop time) the last renewal holds this process's leases.
        self._leased_until = 0.0

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
        await self._tell_replicas(JOBS_CHANNEL)
        return job_id

    async def owner(self, job_id: int) -> Requester | None:
        """Who asked for `job_id`, while it is open; None once it was answered (or never was)."""
        job = await self._storage.job(job_id)
        return job.who if job is not None and job.outcome.open else None

    async def cancel(self, chat_id: int, user_id: int | None) -> Stopped:
        """Stop the user's queued and running jobs in this chat: NOTHING if there were none, PAID
        if one had been sent upstream already (it counts, though stopped), else FREE."""
        ids = await self._storage.open_job_ids(chat_id, user_id)
        return max([await self.cancel_job(job_id) for job_id in ids], default=Stopped.NOTHING)

    async def cancel_job(self, job_id: int) -> Stopped:
        """Stop one job, queued or running; NOTHING if it is not (or no longer) to be stopped,
        PAID if its upstream call was made: the upstream bills it all the same, so it is counted
        at its estimate (bot/jobs/ledger.py)."""
        if job_id in self._delivered:
            return Stopped.NOTHING
        if (job := await self._storage.take_queued(job_id, self._worker)) is not None:
            await self._close(job, Outcome.CANCELLED, None)
            return Stopped.FREE
        if self._workers.stop(job_id, Outcome.CANCELLED):
            return Stopped.PAID if job_id in self._sent else Stopped.FREE
        # Running in another replica: it stops the job when it hears of it.
        if (sent := await self._storage.request_stop(job_id, Outcome.CANCELLED)) is not None:
            await self._tell_replicas(STOP_CHANNEL, str(job_id))
            return Stopped.PAID if sent else Stopped.FREE
        return Stopped.NOTHING

    # ---- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Take up what a replica left: jobs it was running whose upstream call was never made
        are queued again; those that were running upstream are answered as interrupted, since
        the upstream may have done (and billed) them. At start that is this replica's own from
        before a restart (with SQLite: every running job), later those whose lease ran out."""
        await self._storage.listen(JOBS_CHANNEL, lambda _: self._workers.wake())
        await self._storage.listen(STOP_CHANNEL, self._stop_asked)
        forever = self._clock() + timedelta(days=3650)
        resumed = await self._take_over(forever if self._exclusive else None, own=True)
        if resumed:
            log.warning("%d job(s) left by the last run are queued again", resumed)
        self._notes.start()
        self._workers.start()
        self._leases = asyncio.create_task(self._keep_leases())

    async def _take_over(self, expired_before: datetime | None, *, own: bool) -> int:
        """Answer or queue again the running jobs of a replica that is gone (their lease ran
        out before `expired_before`, by default now); how many were queued again. `own`: at
        start, this replica's own from before a restart too."""
        now = self._clock()
        taken = await self._storage.take_over(
            self._worker, now + self._lease, expired_before or now, own=own
        )
        resumed = 0
        for job in taken:
            if self._workers.is_running(job.id):
                continue  # ours, its lease late in renewing
            if job.upstream_sent:
                # Closed first: should this replica lose the job in turn, it says nothing.
                if await self._close(job, Outcome.INTERRUPTED, None):
                    with i18n.speaking(job.who.language):
                        await self._replies.to(job).text(texts.INTERRUPTED())
                continue
            await self._storage.requeue(job.id, job.attempt)
            resumed += 1
        if resumed:
            self._workers.wake()
        return resumed

    async def _keep_leases(self) -> None:
        """Renew the leases of this replica's running jobs, take over those of replicas that
        are gone, and stop the jobs another replica was asked to cancel."""
        loop = asyncio.get_running_loop()
        every = self._lease.total_seconds() / RENEWALS_PER_LEASE
        next_renewal = loop.time()
        while True:
            try:
                if loop.time() >= next_renewal:
                    await self._renew()
                    if taken := await self._take_over(None, own=False):
                        log.warning("%d job(s) of a replica that is gone are queued again", taken)
                    next_renewal = loop.time() + every
                if self._workers.running:
                    for job_id, reason in await self._storage.stops(self._worker):
                        self._stop(job_id, reason)
            except Exception as exc:
                log.error("could not keep the jobs' leases: %s", exc)
                if not self._exclusive and loop.time() > self._leased_until:
                    # Their leases ran out: other replicas may have taken them over.
                    for job_id in list(self._runs):
                        self._lose(job_id)
            await asyncio.sleep(min(STOP_POLL_SECONDS, every))

    async def _renew(self) -> None:
        """Renew this replica's leases, and stop the runs another replica took over meanwhile
        (this process was paused past their lease)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        runs = dict(self._runs)  # claimed before the renewal began: it must find each
        held = set(await self._storage.renew(self._worker, self._clock() + self._lease))
        self._leased_until = started + self._lease.total_seconds()
        for job_id, attempt in runs.items():
            if (job_id, attempt) not in held and self._runs.get(job_id) == attempt:
                self._lose(job_id)

    def _lose(self, job_id: int) -> None:
        self._lost.add(job_id)
        self._workers.stop(job_id, Outcome.INTERRUPTED)

    async def _still_ours(self, job: Job) -> bool:
        """Whether this run still holds the job (its lease renewed on the way), asked before
        it answers. A database that cannot be asked leaves it ours while the last renewal
        holds (SQLite: always; no other process could take it over)."""
        if self._exclusive:
            return True
        try:
            return await self._storage.keep(job.id, job.attempt, self._clock() + self._lease)
        except Exception as exc:
            log.error("could not renew the lease of job %d: %s", job.id, exc)
            return asyncio.get_running_loop().time() <= self._leased_until

    def _stop_asked(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._stop(int(payload), Outcome.CANCELLED)

    def _stop(self, job_id: int, reason: Outcome) -> None:
        if job_id not in self._delivered:
            self._workers.stop(job_id, reason)

    async def _tell_replicas(self, channel: str, payload: str = "") -> None:
        try:
            await self._storage.notify(channel, payload)
        except Exception as exc:  # they will poll
            log.warning("could not notify the other replicas: %s", exc)

    async def drain(self, grace_seconds: float) -> int:
        """At shutdown: no new turns; running jobs get `grace_seconds`, then are interrupted
        (queued again if their upstream call was not made yet). Queued jobs stay queued for the
        next run. How many were interrupted."""
        interrupted = await self._workers.drain(grace_seconds)
        if self._leases:
            self._leases.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leases
        await self._notes.stop()
        await self._ledger.record_unrecorded()
        return interrupted

    # ---- a worker's job ----------------------------------------------------------------------
    async def _run(self, job: Job, slot: Slot) -> None:
        job_id = job.id
        outcome, cost, no_picture = Outcome.UNEXPECTED_ERROR, None, None
        i18n.use(job.who.language)  # this task answers this job only
        self._runs[job_id] = job.attempt
        try:
            if job.upstream_sent:
                self._sent.add(job_id)
            self._notes.started(job)
            outcome, cost, no_picture = await self._carry_out(job, self._replies.to(job), slot)
        except asyncio.CancelledError as stop:
            reason = stop_reason(stop)
            if reason is None:
                raise
            if task := asyncio.current_task():
                task.uncancel()  # handled: what follows must not be cancelled again
            if job_id in self._lost:
                self._drop(job)
                return
            if reason is Outcome.INTERRUPTED and job_id not in self._sent:
                # Nothing was sent: it runs after the restart.
                await self._storage.requeue(job_id, job.attempt)
                self._runs.pop(job_id, None)
                return
            outcome = reason
            if reason is Outcome.INTERRUPTED and not await self._tell_owner(
                job, texts.INTERRUPTED()
            ):
                self._drop(job)
                return
        except LeaseLost:
            self._drop(job)
            return
        except Exception:
            log.exception("job %d failed unexpectedly", job_id)
            if not await self._tell_owner(job, texts.UNEXPECTED_ERROR()):
                self._drop(job)
                return
        finally:
            slot.release()
        # A late /cancel must not cut the answer's bookkeeping in half.
        await asyncio.shield(self._close(job, outcome, cost, no_picture))

    def _drop(self, job: Job) -> None:
        """Forget a run another replica took over: that one answers, closes the job and
        deletes its note."""
        log.warning("job %d was taken over by another replica: stopped here", job.id)
        self._runs.pop(job.id, None)
        self._lost.discard(job.id)
        self._sent.discard(job.id)
        self._delivered.discard(job.id)
        self._notes.finished(dataclasses.replace(job, note_id=None))

    async def _carry_out(
        self, job: Job, answer: JobAnswer, slot: Slot
    ) -> tuple[Outcome, float | None, NoPicture | None]:
        max_images = capabilities_for(job.order.model).max_input_images
        turns = await earlier_turns(self._storage, job, self._max_turns, max_images)
        inputs = await self._inputs(job, answer, turns)
        if inputs is None:
            return Outcome.BAD_INPUT, None, None
        pictures, history = inputs
        if job.options.words is not None:
            return await self._write_words(job, answer, slot, pictures)
        try:
            request = await upstream_request(
                job.order, job.options, pictures, job.who.user_id, history
            )
        except InputRejected as exc:
            await answer.text(str(exc))
            return Outcome.BAD_INPUT, None, None
        # Taken over while its inputs were fetched: the other replica runs it again.
        if job.id not in self._sent and not await self._mark(self._storage.upstream_sent, job):
            raise LeaseLost
        self._sent.add(job.id)
        try:
            # A queue note already says the picture is coming: "uploading photo…" would be a
            # fourth Telegram call for the same news.
            indicator = (
                contextlib.nullcontext()
                if job.note_id is not None or self._notes.shown(job.id)
                else answer.uploading()
            )
            async with indicator, make(self._images, request, job.options.images) as results:
                await self._made(job, slot)
                [delivered, *_] = [self._fidelity.check(request, r) for r in results]
                cost = total_cost(results)
                # The order's prompt: an enlargement's upstream prompt is an instruction.
                caption = texts.result_caption(
                    job.order.prompt, delivered, cost, turn=job.options.thread_turn
                )
                sent = await answer.result(
                    [r.picture for r in results], caption, as_file=job.output_format == "file"
                )
        except UpstreamError as exc:
            self._upstream_failed(exc)
            if not await self._tell_owner(job, texts.upstream_failure(exc), answer):
                raise LeaseLost from exc
            if isinstance(exc, NoImageReturned):
                return exc.kind, None, NoPicture(exc.reason, exc.cost_usd)
            return exc.kind, None, None
        if sent.file_id:
            reasoning = results[0].reasoning
            await self._mark(
                self._storage.set_result, job, sent.file_id, sent.message_id, reasoning
            )
        if self._metrics:
            self._metrics.images_sent.labels("photo" if sent.as_photo else "document").inc(
                len(results)
            )
        return Outcome.OK, cost, None

    async def _made(self, job: Job, slot: Slot) -> None:
        """The upstream has answered (and billed): the answer is delivered whatever comes, its
        upload needs no generation slot, and the user's next request need not wait for it. Unless
        another replica took the job over while the upstream worked: that one has answered."""
        if not await self._still_ours(job):
            raise LeaseLost
        self._delivered.add(job.id)
        await self._mark(self._storage.slot_released, job)
        slot.release()
        await self._tell_replicas(JOBS_CHANNEL)

    async def _write_words(
        self, job: Job, answer: JobAnswer, slot: Slot, pictures: tuple[Picture, ...]
    ) -> tuple[Outcome, float | None, NoPicture | None]:
        """A text job: the text model's prompt, sent with "Draw this" and a copy button."""
        assert job.options.words is not None
        request = text_request(job.order, job.options.words, pictures)
        if job.id not in self._sent and not await self._mark(self._storage.upstream_sent, job):
            raise LeaseLost
        self._sent.add(job.id)
        try:
            result = await self._words.complete(request)
        except UpstreamError as exc:
            self._upstream_failed(exc)
            if not await self._tell_owner(job, texts.upstream_failure(exc), answer):
                raise LeaseLost from exc
            return exc.kind, None, None
        await self._made(job, slot)
        prompt = result.text[: texts.TELEGRAM_TEXT_LIMIT]
        await answer.words(prompt)
        return Outcome.OK, result.cost_usd, None

    async def _inputs(
        self, job: Job, answer: JobAnswer, turns: tuple[StoredTurn, ...]
    ) -> tuple[tuple[Picture, ...], tuple[Turn, ...]] | None:
        """The job's images and its conversation's earlier turns, fetched and made fit for the
        model; None if one cannot be used (the user is told why, and the job costs nothing)."""
        file_ids = [*job.file_ids]
        for turn in turns:
            file_ids += [*turn.file_ids, turn.result_file_id]
        if not file_ids:
            return (), ()
        accepted = capabilities_for(job.order.model).input_mimes
        try:
            downloaded = await asyncio.gather(*(self._replies.fetch(f) for f in file_ids))
            pictures = [await prepare(p, accepted) for p in downloaded]
        except InputRejected as exc:
            log.info("input image refused: %s", exc.__cause__ or exc)
            if not await self._tell_owner(job, str(exc), answer):
                raise LeaseLost from exc
            return None
        if any(p.animated for p in downloaded):
            await answer.text(texts.FIRST_FRAME_ONLY())
        fetched = iter(pictures)
        own = tuple(next(fetched) for _ in job.file_ids)
        history = []
        for turn in turns:
            images = tuple(next(fetched) for _ in turn.file_ids)
            history.append(Turn(turn.prompt, images, next(fetched), turn.reasoning))
        return own, tuple(history)

    async def _claim(self, up_to: int) -> list[Job]:
        """Up to so many next jobs in fair order, now this replica's; none if none waits or
        every generation slot (in all replicas) is taken."""
        lease_until = self._clock() + self._lease
        return await self._storage.claim(self._worker, lease_until, self._capacity, up_to)

    async def _mark(
        self, step: Callable[..., Awaitable[bool | None]], job: Job, *values: str | int | None
    ) -> bool:
        """Record a run's progress; False only if the write found the run taken over. A
        database that refuses writes (a full disk) must not cost the user their picture: the
        refusal is logged, and only a crash before the job's end could run it again."""
        try:
            return await step(job.id, job.attempt, *values) is not False
        except Exception as exc:
            log.error(
                "could not record the progress of job %d (%s): %s", job.id, step.__name__, exc
            )
            return True

    def _upstream_failed(self, exc: UpstreamError) -> None:
        if self._metrics:
            self._metrics.upstream_errors.labels(exc.kind).inc()
        log.warning("upstream failure (%s) after %d attempt(s): %s", exc.kind, exc.attempts, exc)

    async def _tell_owner(self, job: Job, text: str, answer: JobAnswer | None = None) -> bool:
        """Tell the user how their job ended; False, telling nothing, if another replica took
        it over (that one tells, and closes it)."""
        if not await self._still_ours(job):
            return False
        await (answer or self._replies.to(job)).text(text)
        return True

    async def _close(
        self, job: Job, outcome: Outcome, cost: float | None, no_picture: NoPicture | None = None
    ) -> bool:
        """Close the job's ledger line; False if this run no longer holds the job (another
        replica took it over, or it was closed already), and then nothing is charged again."""
        sent = job.upstream_sent or job.id in self._sent
        self._sent.discard(job.id)
        self._runs.pop(job.id, None)
        self._lost.discard(job.id)
        latency = (self._clock() - job.created_at).total_seconds()
        closed = await self._ledger.close(
            dataclasses.replace(job, upstream_sent=sent), outcome, cost, latency, no_picture
        )
        self._notes.finished(job)
        # Only now, with its line closed, does the job stop looking open to a Cancel tap.
        if job.id in self._delivered:
            self._delivered.discard(job.id)
        else:  # it ended holding its generation slot, which the closing freed
            await self._tell_replicas(JOBS_CHANNEL)
        return closed
