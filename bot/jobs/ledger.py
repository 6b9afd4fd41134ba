"""Closing a job's line in the ledger (outcome, cost, latency) with its one log line and its
metrics. A write the database refuses (a full disk) is logged and kept to write again, never
turned into the user's problem: their answer is given, and a picture sent stays sent and
charged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from bot.domain import NoPictureReason, Outcome
from bot.jobs.model import Closing, Job, Result
from bot.ops.metrics import Metrics
from bot.store.jobs import Jobs

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NoPicture:
    """A generation that ended without a picture: why, and what Eden reported it cost."""

    reason: NoPictureReason
    cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class Ending:
    """How a run ended: its outcome, Eden's reported cost (None: not reported, or nothing
    made), why no picture came, and the picture delivered."""

    outcome: Outcome
    cost_usd: float | None = None
    no_picture: NoPicture | None = None
    result: Result | None = None


class Written(Enum):
    """What became of a closing's write."""

    DONE = "done"
    NOT_THEIRS = "not_theirs"  # the job was closed before, or its run taken over
    REFUSED = "refused"  # the database refused it: kept, to write again


class Ledger:
    def __init__(self, storage: Jobs, metrics: Metrics | None = None) -> None:
        self._storage = storage
        self._metrics = metrics
        # Closings the database refused, by job id, to write again.
        self._unrecorded: dict[int, Closing] = {}

    async def close(self, job: Job, ending: Ending, latency: float) -> bool:
        """Record how `job` ended; False if it was not this run's to close (another replica
        took it over, or it was closed before): nothing is recorded or charged then. Only a
        delivered picture costs the user (Eden's reported cost, else the estimate, marked so),
        and one the user cancelled after its upstream call was made (the upstream bills it all
        the same) at its estimate. An interrupted one keeps its estimate, marked estimated, for
        the operator (the upstream may have been paid), but counts against nobody. A job paid
        with a bought credit gets it back unless it ended OK or was cancelled once sent: the
        database does that in the same write as this closing (the trigger `job_returns_credit`
        in bot/store/storage.py), so a retried closing cannot give it twice."""
        outcome, cost_usd, no_picture = ending.outcome, ending.cost_usd, ending.no_picture
        ok = outcome is Outcome.OK
        sent_then_stopped = outcome in (Outcome.INTERRUPTED, Outcome.CANCELLED)
        if ok or (sent_then_stopped and job.upstream_sent):
            cost = cost_usd if cost_usd is not None else job.estimated_cost_usd
            estimated = cost_usd is None
        else:
            cost, estimated = 0.0, False
        closing = Closing(
            job.id,
            outcome,
            cost,
            estimated,
            int(latency * 1000),
            no_picture_reason=no_picture.reason if no_picture else None,
            unbilled_cost_usd=(no_picture.cost_usd or 0.0) if no_picture else 0.0,
            attempt=job.attempt,
            result=ending.result,
        )
        written = await self._write(closing)
        if written is Written.NOT_THEIRS:
            return False
        if written is Written.DONE and self._unrecorded:  # the database takes writes again
            await self.record_unrecorded()
        self._report(job, outcome, cost_usd, latency, no_picture)
        return True

    async def record_unrecorded(self) -> None:
        """Write the closings the database refused; they stay waiting if it still refuses.
        Each is taken out while it is written: another closing's call must not write it too
        (with many jobs closing at once, every one wrote every other's)."""
        for job_id, closing in list(self._unrecorded.items()):
            if self._unrecorded.get(job_id) is not closing:
                continue  # written meanwhile by another call
            del self._unrecorded[job_id]
            if await self._write(closing) is Written.REFUSED:
                break  # the database refuses writes: the others would fail the same way

    async def _write(self, closing: Closing) -> Written:
        """Write one closing. One the database refuses is kept to write again; so is one
        cancelled while written (a shutdown: written at the drain's end, where a write that did
        land finds the job closed and changes nothing)."""
        try:
            if await self._storage.close_request(closing):
                return Written.DONE
        except Exception as exc:
            self._keep(closing, exc)
            return Written.REFUSED
        except BaseException:
            self._unrecorded.setdefault(closing.job_id, closing)
            raise
        log.warning("job %d was closed elsewhere (taken over): not closed again", closing.job_id)
        return Written.NOT_THEIRS

    def _keep(self, closing: Closing, exc: Exception) -> None:
        self._unrecorded[closing.job_id] = closing
        log.error(
            "the ledger did not take the outcome of request %d (%s, $%.3f), %d waiting "
            "in all; they are written again with the next request and at shutdown: %s",
            closing.job_id,
            closing.outcome,
            closing.cost_usd,
            len(self._unrecorded),
            exc,
        )

    def _report(
        self,
        job: Job,
        outcome: Outcome,
        cost_usd: float | None,
        latency: float,
        no_picture: NoPicture | None,
    ) -> None:
        order = job.order
        fields = {
            "event": "request",
            "chat": job.who.chat_id,
            "user": job.who.user_id,
            "kind": order.kind.value,
            "model": order.model,
            "ratio": order.aspect_ratio,
            "size": order.image_size,
            "images": order.inputs,
            "outcome": outcome.value,
            "latency_s": round(latency, 3),
            "cost_usd": cost_usd,
            **({"no_picture": no_picture.reason.value} if no_picture else {}),
        }
        text = " ".join(f"{key}={value}" for key, value in fields.items() if key != "event")
        log.info("request %s", text, extra={"fields": fields})
        if self._metrics:
            self._metrics.requests.labels(outcome.value).inc()
            if no_picture:
                self._metrics.no_picture.labels(no_picture.reason.value).inc()
            self._metrics.latency.observe(latency)
