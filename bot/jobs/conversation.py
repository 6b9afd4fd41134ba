"""Conversations: a request that continues a thread of earlier requests, and which of their turns
go with it, within the turn limit and the model's input-image limit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.jobs.model import Job
from bot.store.jobs import Jobs


class Mode(StrEnum):
    """A chat's mode: each message on its own (a reply to a result still continues its thread),
    or every message continuing the chat's thread until /new."""

    SINGLE = "single"
    CHAT = "chat"


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """An earlier turn as the database keeps it: the prompt, and Telegram `file_id`s of the
    user's images and of the model's picture."""

    prompt: str
    file_ids: tuple[str, ...]
    result_file_id: str
    reasoning: str | None = None


async def earlier_turns(
    storage: Jobs, job: Job, max_turns: int, max_images: int
) -> tuple[StoredTurn, ...]:
    """The turns `job` continues, oldest first: at most `max_turns` with the job's own, and with
    its images no more than `max_images` pictures in all. The oldest are dropped first, and a
    turn whose user images do not all fit keeps its picture and its latest images."""
    turns: list[StoredTurn] = []
    room = max_images - len(job.file_ids)
    parent_id = job.options.parent_id
    while parent_id is not None and len(turns) < max_turns - 1 and room > 0:
        parent = await storage.job(parent_id)
        # Past its retention a turn is forgotten, and the thread begins after it.
        if parent is None or not parent.order.prompt or parent.result_file_id is None:
            break
        room -= 1  # the model's picture first: it is what the next turn changes
        kept = parent.file_ids[len(parent.file_ids) - room :] if room else ()
        room -= len(kept)
        turns.append(
            StoredTurn(parent.order.prompt, kept, parent.result_file_id, parent.result_reasoning)
        )
        parent_id = parent.options.parent_id
    return tuple(reversed(turns))
