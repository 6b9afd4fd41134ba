"""The storage as both databases must keep it: jobs, their fair order, claims under the global
cap, leases taken over, stops, notes, updates seen once, albums gathered, allowances checked and
written as one step. Each test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from bot.domain import Funding, Order, Outcome
from bot.jobs.model import Closing, Job, JobOptions, NewJob, Requester, Result
from bot.store.storage import (
    AlbumItem,
    ChatPreferences,
    ChosenPreset,
    Payment,
    Storage,
    StoredChat,
)
from tests.conftest import OpenStore
from tests.fakes.database import rows

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


def _job(chat_id: int, prompt: str = "a fox", inputs: int = 0, keep: bool = False) -> NewJob:
    return NewJob(
        who=Requester(chat_id, chat_id=chat_id, message_id=70, in_group=False),
        order=Order(prompt, "google/gemini-3.1-flash-image", "16:9", "2K", inputs=inputs),
        output_format="file",
        file_ids=tuple(f"file-{i}" for i in range(inputs)),
        estimated_cost_usd=0.05,
        created_at=NOW,
        keep_prompt=keep,
    )


async def _next(storage: Storage, worker: str, lease: datetime, cap: int) -> Job | None:
    """The next job, claimed one at a time."""
    jobs = await storage.claim(worker, lease, cap)
    return jobs[0] if jobs else None


async def test_a_job_is_stored_whole_and_forgotten_after_its_retention(
    open_store: OpenStore, tmp_path: object
) -> None:
    """What a restart needs is kept while the job is open, and what a result button needs after
    it is answered; the prompt and the file ids go once the retention passes (the ledger's
    prompt stays only when the operator keeps prompts)."""
    storage = await open_store()
    first = await storage.open_job(_job(7, inputs=2))
    second = await storage.open_job(_job(7, prompt="kept", keep=True))
    job = await storage.job(first)
    assert job is not None
    assert (job.who, job.order, job.output_format) == (
        Requester(7, 7, 70, False),
        Order("a fox", "google/gemini-3.1-flash-image", "16:9", "2K", 2),
        "file",
    )
    assert (job.file_ids, job.outcome, job.created_at) == (("file-0", "file-1"), "queued", NOW)
    assert (job.options, job.result_file_id) == (JobOptions(), None)
    claimed = await _next(storage, "w1", LATER, cap=5)
    assert claimed is not None
    assert (claimed.id, claimed.outcome, claimed.upstream_sent) == (first, "running", False)
    assert await storage.upstream_sent(first, claimed.attempt)
    assert not await storage.set_note(first, 99)  # no longer waiting: its sender deletes it
    assert await storage.set_note(second, 98)
    await storage.requeue(first, claimed.attempt)  # refused: its upstream call was made
    job = await storage.job(first)
    assert job is not None
    assert (job.outcome, job.upstream_sent, job.note_id) == (Outcome.RUNNING, True, None)
    assert await storage.open_job_ids(7, 7) == [first, second]
    result = Result("result-1")
    await storage.close_request(
        Closing(first, Outcome.OK, 0.1, False, 5, claimed.attempt, result=result)
    )
    await storage.close_request(Closing(second, Outcome.OK, 0.1, False, 5))
    assert await storage.open_job_ids(7, 7) == []
    kept = await storage.job(first)
    assert kept is not None
    assert (kept.order.prompt, kept.file_ids, kept.result_file_id) == (
        "a fox",
        ("file-0", "file-1"),
        "result-1",
    )
    assert await storage.forget_requests(NOW) == 0  # not older than that yet
    assert await storage.forget_requests(NOW + timedelta(seconds=1)) == 2
    assert await storage.forget_requests(NOW + timedelta(seconds=1)) == 0
    assert rows(
        tmp_path,  # type: ignore[arg-type]
        "SELECT job_prompt, file_ids, result_file_id, prompt FROM requests ORDER BY id",
    ) == [(None, None, None, None), (None, None, None, "kept")]


async def test_a_x4_request_counts_four_images_and_one_request_in_flight(
    open_store: OpenStore,
) -> None:
    storage = await open_store()
    four = dataclasses.replace(_job(7), options=JobOptions(images=4, inline_message_id="inline-1"))
    job_id = await storage.open_job(four)
    single = await storage.open_job(_job(7))
    job = await storage.job(job_id)
    assert job is not None
    assert job.options == JobOptions(4, False, "inline-1")
    used = await storage.allowance(7, NOW, NOW - timedelta(days=1))
    assert used.in_flight == 2  # requests, not images
    assert used.today.images == used.month.images == 5
    for closing in (job_id, single):
        await storage.close_request(Closing(closing, Outcome.OK, 0.1, False, 5))
    [top] = await storage.top_users(NOW, 5)
    assert (top.user_id, top.images) == (7, 5)
    [day] = await storage.daily_totals(NOW)
    assert (day.ok, day.failed) == (5, 0)


async def test_chats_take_turns_and_places_are_counted_in_that_order(
    open_store: OpenStore,
) -> None:
    storage = await open_store()
    # Chat 1 floods the queue first; chats 2 and 3 arrive later.
    ids = {}
    for name, chat in [("a1", 1), ("a2", 1), ("a3", 1), ("b1", 2), ("c1", 3)]:
        ids[name] = await storage.open_job(_job(chat, name))
    assert await storage.queue(10) == [ids[n] for n in ("a1", "b1", "c1", "a2", "a3")]
    served = []
    for _ in range(2):
        job = await _next(storage, "w", LATER, cap=10)
        assert job is not None
        served.append(job.order.prompt)
    # A newcomer joins the round being served, behind those already in it.
    ids["d1"] = await storage.open_job(_job(4, "d1"))
    ids["b2"] = await storage.open_job(_job(2, "b2"))
    while (job := await _next(storage, "w", LATER, cap=10)) is not None:
        served.append(job.order.prompt)
    assert served == ["a1", "b1", "c1", "d1", "a2", "b2", "a3"]


async def test_the_cap_counts_every_replicas_generating_jobs(open_store: OpenStore) -> None:
    one, other = await open_store(), await open_store()
    for chat in (1, 2, 3):
        await one.open_job(_job(chat))
    first = await _next(one, "replica-1", LATER, cap=2)
    second = await _next(other, "replica-2", LATER, cap=2)
    assert first is not None and second is not None
    assert await _next(one, "replica-1", LATER, cap=2) is None  # both slots are taken
    assert (await one.allowance(1, NOW, NOW)).in_flight == 1
    # Its picture is made: the upload needs no slot.
    await other.slot_released(second.id, second.attempt)
    assert (await one.allowance(2, NOW, NOW)).in_flight == 0
    third = await _next(one, "replica-1", LATER, cap=2)
    assert third is not None
    assert third.who.chat_id == 3


async def test_a_claim_takes_several_jobs_in_turn_up_to_the_cap(open_store: OpenStore) -> None:
    storage = await open_store()
    for name, chat in [("a1", 1), ("a2", 1), ("b1", 2), ("c1", 3)]:
        await storage.open_job(_job(chat, name))
    first = await storage.claim("w", LATER, cap=3, up_to=2)
    assert [job.order.prompt for job in first] == ["a1", "b1"]
    second = await storage.claim("w", LATER, cap=3, up_to=5)  # one slot is left
    assert [job.order.prompt for job in second] == ["c1"]
    assert await storage.claim("w", LATER, cap=3, up_to=5) == []


async def test_claims_from_many_replicas_at_once_never_pass_the_cap(
    open_store: OpenStore,
) -> None:
    replicas = [await open_store() for _ in range(4)]
    for chat in range(20):
        await replicas[0].open_job(_job(100 + chat))
    claimed = await asyncio.gather(
        *(_next(replicas[i % 4], f"r{i % 4}", LATER, cap=6) for i in range(20))
    )
    taken = [job.id for job in claimed if job is not None]
    assert len(taken) == 6
    assert len(set(taken)) == 6


async def test_a_gone_replicas_jobs_are_taken_over_when_its_lease_runs_out(
    open_store: OpenStore,
) -> None:
    storage = await open_store()
    unsent = await storage.open_job(_job(1, inputs=1))
    sent = await storage.open_job(_job(2))
    await _next(storage, "dead", NOW + timedelta(seconds=30), cap=5)
    await _next(storage, "dead", NOW + timedelta(seconds=30), cap=5)
    assert await storage.take_over("alive", LATER, NOW, own=False) == []  # still leased
    await storage.renew("dead", NOW + timedelta(seconds=60))
    assert await storage.take_over("alive", LATER, NOW + timedelta(seconds=45), own=False) == []
    taken = await storage.take_over(
        "alive", NOW + timedelta(minutes=10), NOW + timedelta(seconds=61), own=False
    )
    assert [(job.id, job.upstream_sent) for job in taken] == [(unsent, False), (sent, True)]
    # Taken once: the new lease is the taker's.
    assert await storage.take_over("third", LATER, NOW + timedelta(seconds=61), own=False) == []
    attempts = {job.id: job.attempt for job in taken}
    await storage.requeue(unsent, attempts[unsent])
    await storage.requeue(sent, attempts[sent])  # refused: it may have been made and billed
    assert await storage.queue(10) == [unsent]
    await storage.close_request(Closing(sent, Outcome.INTERRUPTED, 0.0, False, 1, attempts[sent]))
    # A replica restarted under its own name takes its own at once.
    restarted = await _next(storage, "alive", LATER, cap=5)
    assert restarted is not None
    # Its sweeps never touch its own running jobs, even with their lease late: their
    # generation slots stay taken.
    later = NOW + timedelta(hours=1)
    assert await storage.take_over("alive", later, later, own=False) == []
    [own] = await storage.take_over("alive", LATER, NOW, own=True)
    assert own.id == unsent


async def test_a_stop_asked_anywhere_reaches_the_replica_running_the_job(
    open_store: OpenStore,
) -> None:
    runner, asker = await open_store(), await open_store()
    queued = await asker.open_job(_job(1))
    running = await asker.open_job(_job(2))
    assert await _next(runner, "runner", LATER, cap=1) is not None
    assert await asker.take_queued(queued, "asker") is None  # it was the running one
    assert await runner.stops("runner") == []
    assert await asker.request_stop(queued, Outcome.CANCELLED)
    assert await runner.stops("runner") == [(queued, Outcome.CANCELLED)]
    taken = await asker.take_queued(running, "asker")
    assert taken is not None
    assert taken.id == running
    assert not await asker.request_stop(10_000, Outcome.CANCELLED)


async def test_listeners_hear_notifications_from_other_connections(
    open_store: OpenStore,
) -> None:
    listener, sender = await open_store(), await open_store()
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.listen("bot_test", heard.put_nowait)
    # SQLite is one process: its notifications reach the listeners of the same storage only.
    await (sender if not listener.exclusive else listener).notify("bot_test", "42")
    assert await asyncio.wait_for(heard.get(), 5) == "42"


async def test_each_update_is_handled_once(open_store: OpenStore) -> None:
    one, other = await open_store(), await open_store()
    assert not await other.seen_update(77)
    seen = await asyncio.gather(*(s.first_sight(77, NOW) for s in (one, other, one, other)))
    assert sorted(seen) == [False, False, False, True]
    assert await other.seen_update(77)
    await one.forget_updates(LATER)
    assert not await other.seen_update(77)
    assert await other.first_sight(77, LATER)


async def test_an_albums_items_gathered_by_several_replicas_are_taken_once(
    open_store: OpenStore,
) -> None:
    one, other = await open_store(), await open_store()
    await one.add_album_item(5, "g1", AlbumItem(12, '{"m": 12}'), at=100.0)
    await other.add_album_item(5, "g1", AlbumItem(11, '{"m": 11}'), at=100.5)
    assert await one.take_album(5, "g1", quiet_since=100.2) == []  # an item is too recent
    taken = await asyncio.gather(
        one.take_album(5, "g1", quiet_since=101.0), other.take_album(5, "g1", quiet_since=101.0)
    )
    [album] = [t for t in taken if t]
    assert [item.message_id for item in album] == [11, 12]
    assert None in taken  # the other replica learns it was taken


async def test_allowances_are_checked_and_written_as_one_step_across_replicas(
    open_store: OpenStore,
) -> None:
    """Two replicas admitting the same user at once: the second sees the first's job. (SQLite
    is one process: its two requests come through the same storage.)"""
    first = await open_store()
    replicas = [first, first if first.exclusive else await open_store()]
    admitted: list[int] = []

    async def admit(storage_index: int) -> None:
        async with replicas[storage_index].serialized(9) as storage:
            if (await storage.allowance(9, NOW, NOW)).in_flight < 1:
                await asyncio.sleep(0.05)  # the other replica tries meanwhile
                admitted.append(await storage.open_job(_job(9)))

    await asyncio.gather(admit(0), admit(1))
    assert len(admitted) == 1


async def test_a_run_taken_over_can_no_longer_change_answer_or_charge_its_job(
    open_store: OpenStore,
) -> None:
    """Every write of a run names its attempt: once another replica took the job over (this
    one was paused past its lease), the old run's writes change nothing, and a job is closed,
    and its credit moved, once."""
    storage = await open_store()
    await storage.add_payment(Payment("c1", 3, credits=1, stars=10))
    job_id = await storage.open_job(dataclasses.replace(_job(3, inputs=1), funding=Funding.CREDIT))
    paused = await _next(storage, "paused", NOW + timedelta(seconds=3), cap=5)
    assert paused is not None
    assert await storage.renew("paused", NOW + timedelta(seconds=3)) == [(job_id, paused.attempt)]
    [taken] = await storage.take_over("other", LATER, NOW + timedelta(seconds=4), own=False)
    assert taken.attempt == paused.attempt + 1
    # The paused run wakes up: it holds nothing any more.
    assert await storage.renew("paused", LATER) == []
    assert not await storage.keep(job_id, paused.attempt, LATER)
    assert not await storage.upstream_sent(job_id, paused.attempt)  # its inputs came too late
    await storage.requeue(job_id, paused.attempt)
    assert not await storage.close_request(
        Closing(job_id, Outcome.OK, 0.067, False, 5, paused.attempt, result=Result("stale"))
    )
    job = await storage.job(job_id)
    assert job is not None
    assert (job.outcome, job.upstream_sent, job.result_file_id) == (Outcome.RUNNING, False, None)
    # Its upstream call was never made: the taker queues it again, and a third run has it.
    await storage.requeue(job_id, taken.attempt)
    again = await _next(storage, "third", LATER, cap=5)
    assert again is not None and again.attempt == taken.attempt + 1
    assert await storage.keep(job_id, again.attempt, LATER)
    assert await storage.upstream_sent(job_id, again.attempt)
    assert not await storage.close_request(
        Closing(job_id, Outcome.INTERRUPTED, 0.05, True, 5, taken.attempt)
    )
    assert await storage.credits(3) == 0
    failed = Closing(job_id, Outcome.PROVIDER_ERROR, 0.0, False, 5, again.attempt)
    assert await storage.close_request(failed)
    assert await storage.credits(3) == 1  # given back once
    assert not await storage.close_request(failed)  # a closing written again changes nothing
    assert not await storage.close_request(dataclasses.replace(failed, outcome=Outcome.OK))
    assert await storage.credits(3) == 1
    closed = await storage.job(job_id)
    assert closed is not None and closed.outcome == Outcome.PROVIDER_ERROR


async def test_a_chat_is_read_with_whether_a_chosen_preset_waits(open_store: OpenStore) -> None:
    """One trip for the chat's settings and for whether a prompt there should look for a preset
    someone chose (most prompts then do not try to take one)."""
    storage = await open_store()
    assert await storage.chat(5) == StoredChat()
    await storage.update_preferences(5, aspect_ratio="4:3")
    await storage.choose_preset(5, 7, ChosenPreset("b", "poster"))
    assert await storage.chat(5) == StoredChat(ChatPreferences(aspect_ratio="4:3"), True)
    assert await storage.chat(6) == StoredChat()  # another chat's choice is not this one's
    assert await storage.take_chosen_preset(5, 7) == ChosenPreset("b", "poster")
    assert not (await storage.chat(5)).preset_waiting
