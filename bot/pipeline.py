"""A request's way through the bot: accepted and written down as a job, queued fairly, carried
out by a worker (its inputs, the upstream call, the delivery), answered exactly once. Handlers
hand requests in and return at once; queued jobs outlive a restart."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from telegram import Bot
from telegram.error import TelegramError

from bot import texts
from bot.catalog import capabilities_for, estimated_price
from bot.delivery import Answer, file_id_of
from bot.domain import Order, Outcome, Picture
from bot.fair_queue import FairQueue
from bot.fidelity import FidelityCheck
from bot.inline_answer import InlineAnswer
from bot.inputs import ImageFile, InputRejected, download, prepare
from bot.jobs import Job, JobOptions, NewJob, Requester
from bot.ledger import Ledger
from bot.metrics import Metrics
from bot.notes import QueueNotes
from bot.policy import Policy
from bot.result_buttons import result_keyboard
from bot.storage import Storage
from bot.telegram_budget import CosmeticBudget
from bot.upstream import ImageService, UpstreamError
from bot.variants import make, total_cost, upstream_request
from bot.workers import Slot, Workers, stop_reason

log = logging.getLogger(__name__)


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
        bot: Bot,
        storage: Storage,
        policy: Policy,
        images: ImageService,
        capacity: int,
        keep_prompts: bool,
        metrics: Metrics | None = None,
        budget: CosmeticBudget | None = None,
        inline_storage_chat_id: int | None = None,
    ) -> None:
        self._bot = bot
        self._storage = storage
        self._policy = policy
        self._images = images
        self._keep_prompts = keep_prompts
        self._metrics = metrics
        self._budget = budget or CosmeticBudget()
        self._inline_storage_chat_id = inline_storage_chat_id
        self._ledger = Ledger(storage, metrics)
        self._fidelity = FidelityCheck(metrics)
        self._queue = FairQueue()
        self._workers = Workers(capacity, self._queue, self._run)
        self._notes = QueueNotes(bot, self._budget, self._queue.order, storage.set_note)
        # Jobs whose upstream call this run has made: interrupted, they are not run again.
        self._sent: set[int] = set()
        # Jobs whose picture the upstream has made (and billed): it is delivered whatever comes,
        # so a Cancel tap from now on is too late.
        self._delivered: set[int] = set()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @property
    def generating(self) -> int:
        return self._workers.generating

    # ---- in --------------------------------------------------------------------------------
    async def submit(self, submission: Submission) -> int:
        """Write the request down as a job and queue it (LimitReached if it may not go ahead);
        its answer comes from a worker. A job that has to wait gets a queue note."""
        who, order, images = submission.who, submission.order, submission.options.images
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
            lambda funding: self._storage.open_job(dataclasses.replace(job, funding=funding)),
            images,
        )
        ahead = self._queue.push(who.chat_id, job_id)
        # An inline job's message says "Drawing" already, and its chat may be closed to the bot.
        if ahead >= self._workers.free and job.options.inline_message_id is None:
            self._notes.waiting(job_id, who.chat_id, who.message_id, ahead)
        return job_id

    async def owner(self, job_id: int) -> Requester | None:
        """Who asked for `job_id`, while it is open; None once it was answered (or never was)."""
        job = await self._storage.job(job_id)
        return job.who if job is not None and job.outcome.open else None

    async def cancel(self, chat_id: int, user_id: int | None) -> int:
        """Stop the user's queued and running jobs in this chat; how many there were."""
        ids = await self._storage.open_job_ids(chat_id, user_id)
        return sum([await self.cancel_job(job_id) for job_id in ids])

    async def cancel_job(self, job_id: int) -> bool:
        """Stop one job, queued or running; False if it is not (or no longer) to be stopped."""
        if job_id in self._delivered:
            return False
        if self._queue.remove(job_id):
            job = await self._storage.job(job_id)
            if job is not None:
                await self._close(job, Outcome.CANCELLED, None)
            return True
        return self._workers.stop(job_id, Outcome.CANCELLED)

    # ---- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Take up what the last run left: queued jobs (and running ones whose upstream call was
        never made) are queued again; those that were running upstream are answered as
        interrupted, since the upstream may have done (and billed) them."""
        resumed = 0
        for job in await self._storage.open_jobs():
            self._policy.resumed(job.who)
            if job.upstream_sent:
                await self._tell(self._answer(job), texts.INTERRUPTED)
                await self._close(job, Outcome.INTERRUPTED, None, note_id=job.note_id)
                continue
            if job.outcome is Outcome.RUNNING:
                await self._storage.requeue(job.id)
            ahead = self._queue.push(job.who.chat_id, job.id)
            if job.note_id is not None:
                self._notes.adopt(job.id, job.who.chat_id, job.note_id)
            elif ahead >= self._workers.free and job.options.inline_message_id is None:
                self._notes.waiting(job.id, job.who.chat_id, job.who.message_id, ahead)
            resumed += 1
        if resumed:
            log.warning("%d job(s) left by the last run are queued again", resumed)
        self._notes.start()
        self._workers.start()

    async def drain(self, grace_seconds: float) -> int:
        """At shutdown: no new turns; running jobs get `grace_seconds`, then are interrupted
        (queued again if their upstream call was not made yet). Queued jobs stay queued for the
        next run. How many were interrupted."""
        interrupted = await self._workers.drain(grace_seconds)
        await self._notes.stop()
        await self._ledger.record_unrecorded()
        return interrupted

    # ---- a worker's job ----------------------------------------------------------------------
    async def _run(self, job_id: int, slot: Slot) -> None:
        job: Job | None = None
        outcome, cost = Outcome.UNEXPECTED_ERROR, None
        try:
            job = await self._claim(job_id)
            if job is None:
                return  # answered meanwhile
            if job.upstream_sent:
                self._sent.add(job_id)
            self._notes.started(job_id)
            outcome, cost = await self._carry_out(job, self._answer(job), slot)
        except asyncio.CancelledError as stop:
            reason = stop_reason(stop)
            if reason is None:
                raise
            if task := asyncio.current_task():
                task.uncancel()  # handled: what follows must not be cancelled again
            # Stopped even before it was read (a /cancel as its turn came).
            job = job or await self._storage.job(job_id)
            if job is None:
                return
            if reason is Outcome.INTERRUPTED and job_id not in self._sent:
                await self._storage.requeue(job_id)  # nothing was sent: it runs after the restart
                return
            outcome = reason
            if reason is Outcome.INTERRUPTED:
                await self._tell(self._answer(job), texts.INTERRUPTED)
        except Exception:
            log.exception("job %d failed unexpectedly", job_id)
            if job is not None:
                await self._tell(self._answer(job), texts.UNEXPECTED_ERROR)
        finally:
            slot.release()
        if job is not None:
            # A late /cancel must not cut the answer's bookkeeping in half.
            await asyncio.shield(self._close(job, outcome, cost))

    def _answer(self, job: Job) -> Answer:
        inline = job.options.inline_message_id
        if inline is None:
            return Answer(self._bot, job.who.chat_id, job.who.message_id)
        storage = self._inline_storage_chat_id
        upload_to = job.who.chat_id if storage is None else storage
        return InlineAnswer(self._bot, inline, upload_to, private=storage is None)

    async def _carry_out(
        self, job: Job, answer: Answer, slot: Slot
    ) -> tuple[Outcome, float | None]:
        pictures = await self._inputs(job, answer)
        if pictures is None:
            return Outcome.BAD_INPUT, None
        request = upstream_request(job.order, job.options, pictures)
        if job.id not in self._sent:
            self._sent.add(job.id)
            await self._mark(self._storage.upstream_sent, job.id)
        try:
            # A queue note already says the picture is coming: "uploading photo…" would be a
            # fourth Telegram call for the same news.
            indicator = (
                contextlib.nullcontext()
                if self._notes.shown(job.id)
                else answer.uploading_photo(self._budget)
            )
            async with indicator, make(self._images, request, job.options.images) as results:
                slot.release()  # the upstream has answered; the upload needs no slot
                self._delivered.add(job.id)
                # The user's next request need not wait for this upload.
                self._policy.released(job.who)
                [delivered, *_] = [self._fidelity.check(request, r) for r in results]
                cost = total_cost(results)
                caption = texts.result_caption(job.order.prompt, delivered, cost)
                sent = await answer.result(
                    [r.picture for r in results],
                    caption,
                    as_file=job.output_format == "file",
                    buttons=result_keyboard(job.id, job.order),
                )
        except UpstreamError as exc:
            self._upstream_failed(exc)
            await self._tell(answer, texts.upstream_failure(exc))
            return exc.kind, None
        if file_id := file_id_of(sent):
            await self._mark(self._storage.set_result, job.id, file_id)
        if self._metrics:
            self._metrics.images_sent.labels("photo" if sent.photo else "document").inc(
                len(results)
            )
        return Outcome.OK, cost

    async def _inputs(self, job: Job, answer: Answer) -> tuple[Picture, ...] | None:
        """The job's images, fetched and made fit for the model; None if one cannot be used (the
        user is told why, and the job costs nothing)."""
        if not job.file_ids:
            return ()
        accepted = capabilities_for(job.order.model).input_mimes
        try:
            files = [ImageFile(file_id, None) for file_id in job.file_ids]
            downloaded = await asyncio.gather(*(download(self._bot, f) for f in files))
            pictures = [await prepare(p, accepted) for p in downloaded]
        except InputRejected as exc:
            log.info("input image refused: %s", exc.__cause__ or exc)
            await self._tell(answer, str(exc))
            return None
        if any(p.animated for p in downloaded):
            await self._tell(answer, texts.FIRST_FRAME_ONLY)
        return tuple(pictures)

    async def _claim(self, job_id: int) -> Job | None:
        """The queued job, marked running; None if it was answered meanwhile. A database that
        refuses writes (a full disk) must not cost the user their picture: the job is read and
        goes on unrecorded, and only a crash before its end could run it again."""
        try:
            return await self._storage.claim(job_id)
        except Exception as exc:
            log.error("could not record the start of job %d: %s", job_id, exc)
        job = await self._storage.job(job_id)
        return job if job is not None and job.outcome is Outcome.QUEUED else None

    async def _mark(self, step: Callable[..., Awaitable[None]], job_id: int, *values: str) -> None:
        """Record a job's progress; a refusal is logged, for the same reason as in _claim."""
        try:
            await step(job_id, *values)
        except Exception as exc:
            log.error(
                "could not record the progress of job %d (%s): %s", job_id, step.__name__, exc
            )

    def _upstream_failed(self, exc: UpstreamError) -> None:
        if self._metrics:
            self._metrics.upstream_errors.labels(exc.kind).inc()
        log.warning("upstream failure (%s) after %d attempt(s): %s", exc.kind, exc.attempts, exc)

    async def _tell(self, answer: Answer, text: str) -> None:
        try:
            await answer.text(text)
        except TelegramError as exc:
            log.warning("could not tell chat %s: %s", answer.chat_id, exc)

    async def _close(
        self, job: Job, outcome: Outcome, cost: float | None, note_id: int | None = None
    ) -> None:
        sent = job.upstream_sent or job.id in self._sent
        self._sent.discard(job.id)
        latency = (datetime.now(UTC) - job.created_at).total_seconds()
        await self._ledger.close(
            dataclasses.replace(job, upstream_sent=sent), outcome, cost, latency
        )
        # Only now, with its line closed, does the job stop looking open to a Cancel tap.
        if job.id in self._delivered:
            self._delivered.discard(job.id)  # released when its picture was made
        else:
            self._policy.released(job.who)
        self._notes.finished(job.id)
        if note_id is not None:
            self._notes.forget(job.who.chat_id, note_id)
