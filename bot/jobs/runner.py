"""One job's run in a worker: its inputs fetched, the upstream call, the delivery, and the closing
of its ledger line, once; a run another replica took over stops without a word."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot import i18n, texts
from bot.decoding import InputRejected, prepare
from bot.domain import Outcome, Picture, Turn
from bot.fidelity import FidelityCheck
from bot.jobs.conversation import StoredTurn, earlier_turns
from bot.jobs.ledger import Ending, Ledger, NoPicture
from bot.jobs.model import Job, Result
from bot.jobs.ports import Clock, JobAnswer, JobStore, Notes, Replies
from bot.jobs.variants import make, total_cost, upstream_request
from bot.jobs.words import text_request
from bot.jobs.workers import Slot, stop_reason
from bot.lineup.catalog import capabilities_for
from bot.ops.metrics import Metrics
from bot.upstream import ImageService, TextService, UpstreamError
from bot.upstream.errors import NoImageReturned

log = logging.getLogger(__name__)

# Replicas tell each other on this channel that a job was queued, or a generation slot freed
# (SQLite: only this process listens).
JOBS_CHANNEL = "bot_jobs"


# How long a shutdown waits for the closings being written when their runs were cancelled.
CLOSING_SECONDS = 10.0


class LeaseLost(Exception):
    """This run of a job was taken over by another replica (this process was paused, or cut off
    from the database, past the job's lease): the other one answers and closes the job, so this
    run stops without a word."""


@dataclass
class Runs:
    """This process's runs, until they close: what the queue's lease keeping and a Cancel tap
    must know of them."""

    attempts: dict[int, int] = field(default_factory=dict)  # job id -> the attempt running
    # Jobs whose upstream call this process has made: interrupted, they are not run again.
    sent: set[int] = field(default_factory=set)
    # Jobs whose picture the upstream has made (and billed): delivered whatever comes, so a
    # Cancel tap from now on is too late.
    delivered: set[int] = field(default_factory=set)
    # Runs found taken over, stopped without a word.
    lost: set[int] = field(default_factory=set)
    # Until when (loop time) the last renewal holds this process's leases.
    leased_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Lease:
    """How this replica holds the jobs it runs."""

    worker: str  # this replica's name on its jobs
    length: timedelta
    # The only process on its database (SQLite): nobody else could take a job over.
    exclusive: bool


async def tell_replicas(store: JobStore, lease: Lease, channel: str, payload: str = "") -> None:
    """Tell the other replicas; none to tell when this process is the only one on its database
    (its own workers are woken directly)."""
    if lease.exclusive:
        return
    try:
        await store.notify(channel, payload)
    except Exception as exc:  # they will poll
        log.warning("could not notify the other replicas: %s", exc)


class Runner:
    def __init__(
        self,
        *,
        store: JobStore,
        ledger: Ledger,
        replies: Replies,
        notes: Notes,
        images: ImageService,
        words: TextService,
        lease: Lease,
        clock: Clock,
        metrics: Metrics | None,
        max_turns: int,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._replies = replies
        self._notes = notes
        self._images = images
        self._words = words
        self._lease = lease
        self._clock = clock
        self._metrics = metrics
        self._max_turns = max_turns  # of a conversation sent upstream, the request's own included
        self._fidelity = FidelityCheck(metrics)
        self.runs = Runs()
        self._closings: set[asyncio.Future[bool]] = set()

    async def run(self, job: Job, slot: Slot) -> None:
        """Carry the job out and close it, whatever happens on the way (a Cancel, a shutdown,
        a take-over, a failure). Its generation slot, if the picture did not give it back
        already, is given back once the job is closed: a claim made then finds the slot free in
        the database too (one made sooner would find none, and wait for the next poll)."""
        try:
            await self._run(job, slot)
        finally:
            slot.release()

    async def settle(self) -> None:
        """Wait for the closings still being written (each shielded from its run's cancel)."""
        if self._closings:
            await asyncio.wait(set(self._closings), timeout=CLOSING_SECONDS)

    async def _run(self, job: Job, slot: Slot) -> None:
        runs, job_id = self.runs, job.id
        ending = Ending(Outcome.UNEXPECTED_ERROR)
        i18n.use(job.who.language)  # this task answers this job only
        runs.attempts[job_id] = job.attempt
        try:
            if job.upstream_sent:
                runs.sent.add(job_id)
            self._notes.started(job)
            ending = await self._carry_out(job, self._replies.to(job), slot)
        except asyncio.CancelledError as stop:
            reason = stop_reason(stop)
            if reason is None:
                raise
            if task := asyncio.current_task():
                task.uncancel()  # handled: what follows must not be cancelled again
            if job_id in runs.lost:
                self._drop(job)
                return
            if reason is Outcome.INTERRUPTED and job_id not in runs.sent:
                # Nothing was sent: it runs after the restart.
                await self._store.requeue(job_id, job.attempt)
                runs.attempts.pop(job_id, None)
                return
            ending = Ending(reason)
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
        # A late /cancel must not cut the answer's bookkeeping in half.
        closing = asyncio.ensure_future(self.close(job, ending))
        self._closings.add(closing)
        closing.add_done_callback(self._closings.discard)
        await asyncio.shield(closing)

    async def close(self, job: Job, ending: Ending) -> bool:
        """Close the job's ledger line; False if this run no longer holds the job (another
        replica took it over, or it was closed already), and then nothing is charged again."""
        runs = self.runs
        sent = job.upstream_sent or job.id in runs.sent
        runs.sent.discard(job.id)
        runs.attempts.pop(job.id, None)
        runs.lost.discard(job.id)
        latency = (self._clock() - job.created_at).total_seconds()
        closed = await self._ledger.close(
            dataclasses.replace(job, upstream_sent=sent), ending, latency
        )
        self._notes.finished(job)
        # Only now, with its line closed, does the job stop looking open to a Cancel tap.
        if job.id in runs.delivered:
            runs.delivered.discard(job.id)
        else:  # it ended holding its generation slot, which the closing freed
            await tell_replicas(self._store, self._lease, JOBS_CHANNEL)
        return closed

    def _drop(self, job: Job) -> None:
        """Forget a run another replica took over: that one answers, closes the job and
        deletes its note."""
        log.warning("job %d was taken over by another replica: stopped here", job.id)
        runs = self.runs
        runs.attempts.pop(job.id, None)
        runs.lost.discard(job.id)
        runs.sent.discard(job.id)
        runs.delivered.discard(job.id)
        self._notes.finished(dataclasses.replace(job, note_id=None))

    async def _carry_out(self, job: Job, answer: JobAnswer, slot: Slot) -> Ending:
        max_images = capabilities_for(job.order.model).max_input_images
        turns = await earlier_turns(self._store, job, self._max_turns, max_images)
        inputs = await self._inputs(job, answer, turns)
        if inputs is None:
            return Ending(Outcome.BAD_INPUT)
        pictures, history = inputs
        if job.options.words is not None:
            return await self._write_words(job, answer, slot, pictures)
        try:
            request = await upstream_request(
                job.order, job.options, pictures, job.who.user_id, history
            )
        except InputRejected as exc:
            await answer.text(str(exc))
            return Ending(Outcome.BAD_INPUT)
        await self._sending(job)
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
            return await self._failed(job, answer, exc)
        if self._metrics:
            self._metrics.images_sent.labels("photo" if sent.as_photo else "document").inc(
                len(results)
            )
        result = (
            Result(sent.file_id, sent.message_id, results[0].reasoning) if sent.file_id else None
        )
        return Ending(Outcome.OK, cost, result=result)

    async def _write_words(
        self, job: Job, answer: JobAnswer, slot: Slot, pictures: tuple[Picture, ...]
    ) -> Ending:
        """A text job: the text model's prompt, sent with "Draw this" and a copy button."""
        assert job.options.words is not None
        request = text_request(job.order, job.options.words, pictures)
        await self._sending(job)
        try:
            result = await self._words.complete(request)
        except UpstreamError as exc:
            return await self._failed(job, answer, exc)
        await self._made(job, slot)
        prompt = result.text[: texts.TELEGRAM_TEXT_LIMIT]
        await answer.words(prompt)
        return Ending(Outcome.OK, result.cost_usd)

    async def _sending(self, job: Job) -> None:
        """Record that the upstream call is about to be made: from now on the job is paid for
        if it stops, and never run again. Unless it was taken over while its inputs were
        fetched: the other replica runs it again."""
        if job.id not in self.runs.sent and not await self._mark(self._store.upstream_sent, job):
            raise LeaseLost
        self.runs.sent.add(job.id)

    async def _made(self, job: Job, slot: Slot) -> None:
        """The upstream has answered (and billed): the answer is delivered whatever comes, its
        upload needs no generation slot, and the user's next request need not wait for it. Unless
        another replica took the job over while the upstream worked: that one has answered."""
        if not await self._still_ours(job):
            raise LeaseLost
        self.runs.delivered.add(job.id)
        await self._mark(self._store.slot_released, job)
        slot.release()
        await tell_replicas(self._store, self._lease, JOBS_CHANNEL)

    async def _failed(self, job: Job, answer: JobAnswer, exc: UpstreamError) -> Ending:
        """No picture (or text) came: the user is told why, and pays nothing."""
        if self._metrics:
            self._metrics.upstream_errors.labels(exc.kind).inc()
        log.warning("upstream failure (%s) after %d attempt(s): %s", exc.kind, exc.attempts, exc)
        if not await self._tell_owner(job, texts.upstream_failure(exc), answer):
            raise LeaseLost from exc
        if isinstance(exc, NoImageReturned):
            return Ending(exc.kind, no_picture=NoPicture(exc.reason, exc.cost_usd))
        return Ending(exc.kind)

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

    async def _tell_owner(self, job: Job, text: str, answer: JobAnswer | None = None) -> bool:
        """Tell the user how their job ended; False, telling nothing, if another replica took
        it over (that one tells, and closes it)."""
        if not await self._still_ours(job):
            return False
        await (answer or self._replies.to(job)).text(text)
        return True

    async def _still_ours(self, job: Job) -> bool:
        """Whether this run still holds the job (its lease renewed on the way), asked before
        it answers. A database that cannot be asked leaves it ours while the last renewal
        holds (SQLite: always; no other process could take it over)."""
        if self._lease.exclusive:
            return True
        try:
            return await self._store.keep(job.id, job.attempt, self._clock() + self._lease.length)
        except Exception as exc:
            log.error("could not renew the lease of job %d: %s", job.id, exc)
            return asyncio.get_running_loop().time() <= self.runs.leased_until
