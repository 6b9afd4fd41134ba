"""Which earlier turns go with a conversation's request: stored threads read back on both
databases, bounded by the turn limit and the model's input-image limit, oldest dropped first,
forgotten with the requests' retention."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from bot.domain import ImageRequest, Order, Outcome, Turn
from bot.imaging import inspect
from bot.jobs.conversation import StoredTurn, earlier_turns
from bot.jobs.model import Closing, JobOptions, NewJob, Requester, Result
from bot.store.storage import Storage
from bot.upstream import images
from tests.conftest import OpenStore
from tests.fakes.images import png

CHAT = 31
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def _turn(
    storage: Storage,
    prompt: str,
    inputs: int,
    parent: int | None,
    inline_message_id: str | None = None,
) -> int:
    """A delivered request of the thread (its result in message 500 + its id)."""
    job_id = await storage.open_job(
        NewJob(
            who=Requester(CHAT, CHAT),
            order=Order(prompt, "google/gemini-2.5-flash-image", "1:1", "1K", inputs),
            output_format="photo",
            file_ids=tuple(f"{prompt}-in-{i}" for i in range(inputs)),
            estimated_cost_usd=0.04,
            created_at=NOW,
            options=JobOptions(parent_id=parent, inline_message_id=inline_message_id),
        )
    )
    result = Result(f"{prompt}-out", 500 + job_id)
    await storage.close_request(Closing(job_id, Outcome.OK, 0.04, False, 5, result=result))
    return job_id


async def test_the_oldest_turns_go_first_to_keep_within_the_turn_and_image_limits(
    open_store: OpenStore,
) -> None:
    storage = await open_store()
    one = await _turn(storage, "one", 0, None)
    two = await _turn(storage, "two", 2, one)
    three = await _turn(storage, "three", 0, two)
    job = await storage.job(await _turn(storage, "four", 1, three))
    assert job is not None
    assert await storage.result_job(CHAT, 500 + three) == await storage.job(three)

    assert await earlier_turns(storage, job, max_turns=6, max_images=14) == (
        StoredTurn("one", (), "one-out"),
        StoredTurn("two", ("two-in-0", "two-in-1"), "two-out"),
        StoredTurn("three", (), "three-out"),
    )
    assert await earlier_turns(storage, job, max_turns=3, max_images=14) == (
        StoredTurn("two", ("two-in-0", "two-in-1"), "two-out"),
        StoredTurn("three", (), "three-out"),
    )
    # Four images: the request's own, the pictures of turns three and two, and the latest of
    # turn two's inputs; with three (Gemini 2.5 Flash), turn two keeps only its picture.
    assert await earlier_turns(storage, job, max_turns=6, max_images=4) == (
        StoredTurn("two", ("two-in-1",), "two-out"),
        StoredTurn("three", (), "three-out"),
    )
    assert await earlier_turns(storage, job, max_turns=6, max_images=3) == (
        StoredTurn("two", (), "two-out"),
        StoredTurn("three", (), "three-out"),
    )

    # Past the retention the turns are forgotten: the thread begins after them.
    await storage.forget_requests(NOW + timedelta(days=1))
    assert await earlier_turns(storage, job, max_turns=6, max_images=14) == ()
    assert await storage.result_job(CHAT, 500 + three) is None


async def test_the_chats_thread_begins_anew_after_new(open_store: OpenStore) -> None:
    storage = await open_store()
    assert await storage.thread_head(CHAT) is None
    first = await _turn(storage, "one", 0, None)
    head = await storage.thread_head(CHAT)
    assert head is not None and head.id == first
    await storage.new_thread(CHAT)
    assert await storage.thread_head(CHAT) is None
    await storage.update_preferences(CHAT, conversation="chat")
    assert await storage.thread_head(CHAT) is None  # a setting changed: still no thread
    second = await _turn(storage, "two", 0, None)
    inline = await _turn(storage, "inline", 0, None, inline_message_id="inline-1")
    head = await storage.thread_head(CHAT)
    assert head is not None and head.id == second != inline


def test_the_images_protocol_sends_the_last_picture_and_the_earlier_words() -> None:
    last, own = png(8, 8, (200, 0, 0)), png(8, 8, (0, 0, 200))
    request = ImageRequest(
        "now at night",
        "google/gemini-3.1-flash-image",
        "1:1",
        "1K",
        (inspect(own),),
        history=(Turn("a cat", (), inspect(png(8, 8))), Turn("make it red", (), inspect(last))),
    )
    assert images.path(request) == "/images/edits"
    body = images.body(request)
    assert body["prompt"].endswith(
        "1. a cat\n2. make it red\n"
        "The first image is the latest result; keep what those instructions established.\n"
        "Now: now at night"
    )
    assert [i["image_url"] for i in body["images"]] == [
        f"data:image/png;base64,{base64.b64encode(p).decode()}" for p in (last, own)
    ]
