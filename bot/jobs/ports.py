"""What the queue core needs from the outside, as small protocols: a clock, the jobs as the
database keeps them, the answers of a job (bot/telegram/replies.py implements them for
Telegram), its input files and its queue notes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bot.domain import Picture
from bot.jobs.model import Job
from bot.store.drivers import Listener
from bot.store.jobs import Jobs

# The wall clock the queue core reads (a test passes its own).
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class JobStore(Jobs, Protocol):
    """The jobs as the database keeps them (bot/store/jobs.py), and the channels on which the
    replicas tell each other of them."""

    async def listen(self, channel: str, listener: Listener) -> None: ...

    async def notify(self, channel: str, payload: str = "") -> None: ...


@dataclass(frozen=True, slots=True)
class Delivered:
    """A result as the user got it: its file as the messenger keeps it (the input of the buttons
    under it), the message a reply continuing its thread names (None if it is not in the job's
    chat), and whether it went as a photo or as a file."""

    file_id: str | None
    message_id: int | None
    as_photo: bool


class JobAnswer(Protocol):
    """Where one job's answers go. A text that cannot be delivered is logged, never raised: the
    job is closed all the same."""

    async def text(self, text: str) -> None: ...

    def uploading(self) -> AbstractAsyncContextManager[None]:
        """ "Uploading photo…" while the block runs, where there is room for it."""
        ...

    async def result(
        self, pictures: Sequence[Picture], caption: str, *, as_file: bool
    ) -> Delivered: ...

    async def words(self, text: str) -> None:
        """The text model's answer, with "Draw this" and a copy button."""
        ...


class Replies(Protocol):
    """Answers and input files of jobs, by the ids a job holds."""

    def to(self, job: Job) -> JobAnswer: ...

    async def fetch(self, file_id: str) -> Picture:
        """A stored picture's bytes, checked from its header; InputRejected if it cannot be
        had or used."""
        ...


class Notes(Protocol):
    """The "Queued: 3 ahead of you" notes of waiting jobs."""

    @property
    def waiting_jobs(self) -> int: ...

    def waiting(self, job_id: int, chat_id: int, reply_to: int | None, language: str) -> None: ...

    def started(self, job: Job) -> None: ...

    def finished(self, job: Job) -> None: ...

    def shown(self, job_id: int) -> bool: ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...
