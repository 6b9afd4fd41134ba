"""The job queue: requests opened, claimed, leased, taken over, answered and closed, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Protocol

from bot.domain import Funding, Order, Outcome
from bot.jobs.model import Closing, Job, JobOptions, NewJob, Requester, Transform, Words
from bot.store.base import Aggregate
from bot.store.drivers import CheckViolated, Row, moment
from bot.store.records import CreditsExhausted, PastResult

# The trigger that charges a credit job its credit, refusing it when none is left.
CHARGES_CREDIT = "job_charges_credit"

# The ledger's kinds of text jobs (the others are pictures: generate, edit).
_WORDS = {words.value for words in Words}
_OPEN = f"outcome IN ('{Outcome.QUEUED}', '{Outcome.RUNNING}')"
# A delivered picture of (chat_id, user_id) made since a moment, still kept: /history's entries.
_PAST_RESULT = (
    "chat_id = :chat_id AND user_id = :user_id AND result_file_id IS NOT NULL "
    f"AND job_prompt IS NOT NULL AND outcome = '{Outcome.OK}' AND created_at >= :since"
)
_JOB_COLUMNS = (
    "id, chat_id, user_id, message_id, in_group, job_prompt, model, aspect_ratio, image_size, "
    "inputs, output_format, file_ids, cost_usd, outcome, created_at, note_id, upstream_sent, "
    "funding, language, images, enlarge, inline_message_id, result_file_id, attempt, transform, "
    "kind, parent_id, thread_turn, conversation, result_reasoning"
)
# A run's writes: the job is still open and still in the run that `attempt` names.
_FENCED = f"id = :job_id AND attempt = :attempt AND {_OPEN}"
# A new job's turn: the round being served, or one after its chat's last open job.
_TURN = (
    "{greatest}(COALESCE((SELECT MIN(turn) FROM requests "
    f"WHERE outcome = '{Outcome.QUEUED}'), 0), "
    f"COALESCE((SELECT MAX(turn) + 1 FROM requests WHERE chat_id = :chat_id AND {_OPEN}), 0))"
)


class Jobs(Protocol):
    """The durable queue of requests, shared by the replicas."""

    async def open_job(self, job: NewJob) -> int: ...

    async def job(self, job_id: int) -> Job | None: ...

    async def open_job_ids(self, chat_id: int, user_id: int | None) -> list[int]: ...

    async def queue(self, limit: int) -> list[int]: ...

    async def claim(
        self, worker: str, lease_until: datetime, cap: int, up_to: int = 1
    ) -> list[Job]: ...

    async def upstream_sent(self, job_id: int, attempt: int) -> bool: ...

    async def slot_released(self, job_id: int, attempt: int) -> None: ...

    async def renew(self, worker: str, lease_until: datetime) -> list[tuple[int, int]]: ...

    async def keep(self, job_id: int, attempt: int, lease_until: datetime) -> bool: ...

    async def take_over(
        self, worker: str, lease_until: datetime, expired_before: datetime, *, own: bool
    ) -> list[Job]: ...

    async def requeue(self, job_id: int, attempt: int) -> None: ...

    async def take_queued(self, job_id: int, worker: str) -> Job | None: ...

    async def request_stop(self, job_id: int, reason: Outcome) -> bool | None: ...

    async def stops(self, worker: str) -> list[tuple[int, Outcome]]: ...

    async def set_note(self, job_id: int, note_id: int) -> bool: ...

    async def result_job(self, chat_id: int, message_id: int) -> Job | None: ...

    async def thread_head(self, chat_id: int) -> Job | None: ...

    async def new_thread(self, chat_id: int) -> None: ...

    async def forget_requests(self, before: datetime) -> int: ...

    async def past_results(
        self, chat_id: int, user_id: int, since: datetime, limit: int, offset: int = 0
    ) -> list[PastResult]: ...

    async def past_results_count(self, chat_id: int, user_id: int, since: datetime) -> int: ...

    async def forgotten_results(self, chat_id: int, user_id: int, before: datetime) -> int: ...

    async def close_request(self, closing: Closing) -> bool: ...


class SqlJobs(Aggregate):
    async def open_job(self, job: NewJob) -> int:
        """Write a job down at the back of its turn; CreditsExhausted if it is to be paid with a
        credit and none is left."""
        who, order, options = job.who, job.order, job.options
        try:
            [row] = await self._db.fetch(
                "INSERT INTO requests (created_at, chat_id, user_id, message_id, in_group, kind, "
                "model, aspect_ratio, image_size, inputs, output_format, file_ids, cost_usd, "
                "outcome, job_prompt, prompt, funding, language, images, enlarge, "
                "inline_message_id, transform, parent_id, thread_turn, conversation, turn) "
                "VALUES (:created_at, :chat_id, :user_id, :message_id, :in_group, :kind, "
                ":model, :aspect_ratio, :image_size, :inputs, :output_format, :file_ids, "
                f":cost_usd, '{Outcome.QUEUED}', :job_prompt, :prompt, :funding, :language, "
                ":images, :enlarge, :inline_message_id, :transform, :parent_id, :thread_turn, "
                f":conversation, {_TURN}) "
                "RETURNING id",
                created_at=job.created_at,
                chat_id=who.chat_id,
                user_id=who.user_id,
                message_id=who.message_id,
                in_group=int(who.in_group),
                kind=(options.words or order.kind).value,
                model=order.model,
                aspect_ratio=order.aspect_ratio,
                image_size=order.image_size,
                inputs=order.inputs,
                output_format=job.output_format,
                file_ids=json.dumps(job.file_ids),
                cost_usd=float(job.estimated_cost_usd),
                job_prompt=order.prompt,
                prompt=order.prompt if job.keep_prompt else None,
                funding=job.funding.value,
                language=who.language,
                images=options.images,
                enlarge=int(options.enlarge),
                inline_message_id=options.inline_message_id,
                transform=options.transform and options.transform.value,
                parent_id=options.parent_id,
                thread_turn=options.thread_turn,
                conversation=int(options.conversation),
            )
        except CheckViolated as exc:
            if exc.constraint == CHARGES_CREDIT:
                raise CreditsExhausted(str(exc)) from exc
            raise
        return int(row["id"])

    async def job(self, job_id: int) -> Job | None:
        rows = await self._db.fetch(
            f"SELECT {_JOB_COLUMNS} FROM requests WHERE id = :job_id", job_id=job_id
        )
        return _job(rows[0]) if rows else None

    async def open_job_ids(self, chat_id: int, user_id: int | None) -> list[int]:
        rows = await self._db.fetch(
            "SELECT id FROM requests WHERE chat_id = :chat_id "
            f"AND user_id IS NOT DISTINCT FROM :user_id AND {_OPEN} ORDER BY id",
            chat_id=chat_id,
            user_id=user_id,
        )
        return [row["id"] for row in rows]

    async def queue(self, limit: int) -> list[int]:
        """The first `limit` waiting jobs, in the order they will be served."""
        rows = await self._db.fetch(
            f"SELECT id FROM requests WHERE outcome = '{Outcome.QUEUED}' "
            "ORDER BY turn, id LIMIT :limit",
            limit=limit,
        )
        return [row["id"] for row in rows]

    async def claim(
        self, worker: str, lease_until: datetime, cap: int, up_to: int = 1
    ) -> list[Job]:
        """Take up to `up_to` next jobs in fair order for `worker`, as long as fewer than `cap`
        jobs then hold a generation slot (in all replicas). A job without input images goes
        upstream right after this, so it is marked as sent here and needs no second write: only
        a crash in between would answer it as interrupted rather than run it again."""
        async with self._db.claiming() as db:
            rows = await db.fetch(
                f"UPDATE requests SET outcome = '{Outcome.RUNNING}', generating = 1, "
                "worker = :worker, lease_until = :lease_until, stop = NULL, "
                "attempt = attempt + 1, upstream_sent = CASE WHEN inputs = 0 THEN 1 ELSE 0 END "
                "WHERE id IN (SELECT id FROM requests "
                f"WHERE outcome = '{Outcome.QUEUED}' ORDER BY turn, id "
                "LIMIT {least}(:up_to, {greatest}(0, :cap - (SELECT COUNT(*) FROM requests "
                f"WHERE outcome = '{Outcome.RUNNING}' AND generating = 1))) "
                "{skip_locked}) "
                f"RETURNING {_JOB_COLUMNS}",
                worker=worker,
                lease_until=lease_until,
                up_to=up_to,
                cap=cap,
            )
        return sorted((_job(row) for row in rows), key=lambda job: job.id)

    async def upstream_sent(self, job_id: int, attempt: int) -> bool:
        """Note that the run `attempt` of the job is about to call upstream; False if that run
        is no longer the job's (another replica took it over): it must not call."""
        rows = await self._db.fetch(
            f"UPDATE requests SET upstream_sent = 1 WHERE {_FENCED} RETURNING id",
            job_id=job_id,
            attempt=attempt,
        )
        return bool(rows)

    async def slot_released(self, job_id: int, attempt: int) -> None:
        await self._db.execute(
            f"UPDATE requests SET generating = 0 WHERE {_FENCED}", job_id=job_id, attempt=attempt
        )

    async def renew(self, worker: str, lease_until: datetime) -> list[tuple[int, int]]:
        """Renew the leases of `worker`'s running jobs; the (job id, attempt) of each, so that a
        run missing from them knows it was taken over."""
        rows = await self._db.fetch(
            "UPDATE requests SET lease_until = :lease_until "
            f"WHERE worker = :worker AND outcome = '{Outcome.RUNNING}' RETURNING id, attempt",
            lease_until=lease_until,
            worker=worker,
        )
        return [(int(row["id"]), int(row["attempt"])) for row in rows]

    async def keep(self, job_id: int, attempt: int, lease_until: datetime) -> bool:
        """Renew one run's lease, as the proof that it is still the job's before it answers;
        False if another replica took it over (or it was closed)."""
        rows = await self._db.fetch(
            f"UPDATE requests SET lease_until = :lease_until WHERE {_FENCED} "
            f"AND outcome = '{Outcome.RUNNING}' RETURNING id",
            lease_until=lease_until,
            job_id=job_id,
            attempt=attempt,
        )
        return bool(rows)

    async def take_over(
        self, worker: str, lease_until: datetime, expired_before: datetime, *, own: bool
    ) -> list[Job]:
        """Running jobs whose replica is gone (their lease ran out), now `worker`'s to answer or
        queue again. `own`: at start, this worker's too, from before a restart; otherwise its
        own are never touched (they run here: a late renewal must not free their slots)."""
        rows = await self._db.fetch(
            "UPDATE requests SET worker = :worker, lease_until = :lease_until, generating = 0, "
            "attempt = attempt + 1 WHERE id IN (SELECT id FROM requests "
            f"WHERE outcome = '{Outcome.RUNNING}' AND ("
            "(:own = 1 AND worker = :worker) OR (worker IS DISTINCT FROM :worker "
            "AND (lease_until IS NULL OR lease_until < :expired_before))) "
            "{skip_locked}) "
            f"RETURNING {_JOB_COLUMNS}",
            worker=worker,
            lease_until=lease_until,
            own=int(own),
            expired_before=expired_before,
        )
        return sorted((_job(row) for row in rows), key=lambda job: job.id)

    async def requeue(self, job_id: int, attempt: int) -> None:
        await self._db.execute(
            f"UPDATE requests SET outcome = '{Outcome.QUEUED}', worker = NULL, generating = 0 "
            f"WHERE {_FENCED} AND upstream_sent = 0",
            job_id=job_id,
            attempt=attempt,
        )

    async def take_queued(self, job_id: int, worker: str) -> Job | None:
        """Take a waiting job out of the queue (to cancel it); None if it is not waiting."""
        rows = await self._db.fetch(
            f"UPDATE requests SET outcome = '{Outcome.RUNNING}', worker = :worker, "
            f"generating = 0, attempt = attempt + 1 "
            f"WHERE id = :job_id AND outcome = '{Outcome.QUEUED}' "
            f"RETURNING {_JOB_COLUMNS}",
            worker=worker,
            job_id=job_id,
        )
        return _job(rows[0]) if rows else None

    async def request_stop(self, job_id: int, reason: Outcome) -> bool | None:
        """Ask whichever replica runs `job_id` to stop it: whether its upstream call was made
        already; None if it is not running."""
        rows = await self._db.fetch(
            "UPDATE requests SET stop = :stop "
            f"WHERE id = :job_id AND outcome = '{Outcome.RUNNING}' RETURNING upstream_sent",
            stop=reason.value,
            job_id=job_id,
        )
        return bool(rows[0]["upstream_sent"]) if rows else None

    async def stops(self, worker: str) -> list[tuple[int, Outcome]]:
        rows = await self._db.fetch(
            "SELECT id, stop FROM requests "
            f"WHERE worker = :worker AND outcome = '{Outcome.RUNNING}' AND stop IS NOT NULL",
            worker=worker,
        )
        return [(row["id"], Outcome(row["stop"])) for row in rows]

    async def set_note(self, job_id: int, note_id: int) -> bool:
        """Remember a waiting job's queue note, for whoever answers it to delete; False if the
        job is no longer waiting (the note's sender deletes it then)."""
        rows = await self._db.fetch(
            "UPDATE requests SET note_id = :note_id "
            f"WHERE id = :job_id AND outcome = '{Outcome.QUEUED}' RETURNING id",
            note_id=note_id,
            job_id=job_id,
        )
        return bool(rows)

    async def result_job(self, chat_id: int, message_id: int) -> Job | None:
        """The job whose result is that message of the chat, while it is kept."""
        rows = await self._db.fetch(
            f"SELECT {_JOB_COLUMNS} FROM requests "
            "WHERE chat_id = :chat_id AND result_message_id = :message_id "
            "AND job_prompt IS NOT NULL AND result_file_id IS NOT NULL",
            chat_id=chat_id,
            message_id=message_id,
        )
        return _job(rows[0]) if rows else None

    async def thread_head(self, chat_id: int) -> Job | None:
        """The chat's latest result since its thread began (in /mode chat, what the next
        message continues); None if there is none yet."""
        rows = await self._db.fetch(
            # A result is delivered (its job about to close) once its file is recorded; an
            # inline result is in some other chat's message, not this chat's conversation.
            f"SELECT {_JOB_COLUMNS} FROM requests "
            "WHERE chat_id = :chat_id AND job_prompt IS NOT NULL "
            "AND inline_message_id IS NULL AND result_file_id IS NOT NULL AND id > COALESCE("
            "(SELECT thread_from FROM chat_preferences WHERE chat_id = :chat_id), 0) "
            "ORDER BY id DESC LIMIT 1",
            chat_id=chat_id,
        )
        return _job(rows[0]) if rows else None

    async def new_thread(self, chat_id: int) -> None:
        """The chat's next request begins a new thread."""
        await self._db.execute(
            "INSERT INTO chat_preferences (chat_id, thread_from, updated_at) "
            "VALUES (:chat_id, (SELECT COALESCE(MAX(id), 0) FROM requests), :now) "
            "ON CONFLICT (chat_id) DO UPDATE SET thread_from = excluded.thread_from, "
            "updated_at = excluded.updated_at",
            chat_id=chat_id,
            now=datetime.now(UTC),
        )

    async def forget_requests(self, before: datetime) -> int:
        """Clear what closed requests made before `before` kept to be run again (the prompt, the
        input and result files, the inline message); their ledger lines stay. How many."""
        rows = await self._db.fetch(
            "UPDATE requests SET job_prompt = NULL, file_ids = NULL, result_file_id = NULL, "
            "inline_message_id = NULL, result_message_id = NULL, result_reasoning = NULL "
            f"WHERE created_at < :before AND NOT ({_OPEN}) AND "
            "(job_prompt IS NOT NULL OR file_ids IS NOT NULL OR result_file_id IS NOT NULL "
            "OR inline_message_id IS NOT NULL) "
            "RETURNING id",
            before=before,
        )
        await self._db.execute(
            "DELETE FROM remix_prompts WHERE created_at < :before", before=before
        )
        return len(rows)

    async def past_results(
        self, chat_id: int, user_id: int, since: datetime, limit: int, offset: int = 0
    ) -> list[PastResult]:
        """The user's pictures in a chat made since `since` whose file is kept, newest first."""
        rows = await self._db.fetch(
            f"SELECT id, job_prompt, created_at FROM requests WHERE {_PAST_RESULT} "
            "ORDER BY id DESC LIMIT :limit OFFSET :offset",
            chat_id=chat_id,
            user_id=user_id,
            since=since,
            limit=limit,
            offset=offset,
        )
        return [PastResult(row["id"], row["job_prompt"], moment(row["created_at"])) for row in rows]

    async def past_results_count(self, chat_id: int, user_id: int, since: datetime) -> int:
        [row] = await self._db.fetch(
            f"SELECT COUNT(*) AS count FROM requests WHERE {_PAST_RESULT}",
            chat_id=chat_id,
            user_id=user_id,
            since=since,
        )
        return int(row["count"])

    async def forgotten_results(self, chat_id: int, user_id: int, before: datetime) -> int:
        """How many of the user's pictures in a chat are older than `before` (their files and
        prompts are forgotten, or about to be)."""
        [row] = await self._db.fetch(
            "SELECT COUNT(*) AS count FROM requests WHERE chat_id = :chat_id "
            f"AND user_id = :user_id AND outcome = '{Outcome.OK}' AND images > 0 "
            "AND created_at < :before",
            chat_id=chat_id,
            user_id=user_id,
            before=before,
        )
        return int(row["count"])

    async def close_request(self, closing: Closing) -> bool:
        """Close a job's ledger line, once: False if it was closed before or its run was taken
        over (`closing.attempt` is not the job's), and then nothing changes, so a job is
        answered and charged once. The picture delivered is recorded in the same write. Its
        prompt and files stay, for the buttons under its result, until
        REQUEST_RETENTION_DAYS have passed (forget_requests)."""
        reason, result = closing.no_picture_reason, closing.result
        rows = await self._db.fetch(
            "UPDATE requests SET outcome = :outcome, cost_usd = :cost_usd, "
            "cost_estimated = :estimated, latency_ms = :latency_ms, "
            "no_picture_reason = :reason, unbilled_cost_usd = :unbilled_cost_usd, "
            "finished_at = :now, generating = 0, worker = NULL, "
            "result_file_id = :file_id, result_message_id = :message_id, "
            f"result_reasoning = :reasoning WHERE {_FENCED} RETURNING id",
            outcome=closing.outcome.value,
            cost_usd=float(closing.cost_usd),
            estimated=int(closing.estimated),
            latency_ms=closing.latency_ms,
            reason=reason.value if reason else None,
            unbilled_cost_usd=float(closing.unbilled_cost_usd),
            now=datetime.now(UTC),
            file_id=result.file_id if result else None,
            message_id=result.message_id if result else None,
            reasoning=result.reasoning if result else None,
            job_id=closing.job_id,
            attempt=closing.attempt,
        )
        return bool(rows)


def _job(row: Row) -> Job:
    transform, kind = row["transform"], row["kind"]
    return Job(
        id=row["id"],
        who=Requester(
            row["user_id"],
            row["chat_id"],
            row["message_id"],
            bool(row["in_group"]),
            row["language"],
        ),
        order=Order(
            row["job_prompt"] or "",
            row["model"],
            row["aspect_ratio"],
            row["image_size"],
            row["inputs"],
        ),
        output_format=row["output_format"],
        file_ids=tuple(json.loads(row["file_ids"] or "[]")),
        estimated_cost_usd=float(row["cost_usd"]),
        outcome=Outcome(row["outcome"]),
        created_at=moment(row["created_at"]),
        note_id=row["note_id"],
        upstream_sent=bool(row["upstream_sent"]),
        funding=Funding(row["funding"]),
        options=JobOptions(
            int(row["images"]),
            bool(row["enlarge"]),
            row["inline_message_id"],
            Transform(transform) if transform else None,
            Words(kind) if kind in _WORDS else None,
            row["parent_id"],
            int(row["thread_turn"]),
            bool(row["conversation"]),
        ),
        result_file_id=row["result_file_id"],
        attempt=int(row["attempt"]),
        result_reasoning=row["result_reasoning"],
    )
