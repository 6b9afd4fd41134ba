"""Jobs: requests accepted and written down, waiting for their turn or running; what a job holds
and the states it moves through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain import Funding, NoPictureReason, Order, Outcome


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks, and where. `user_id` is the chat a message was sent in, if it was sent on behalf
    of a chat (an anonymous group admin, a channel): its `from` is then a service account
    shared by all (handlers/access.py, requester_id)."""

    user_id: int | None
    chat_id: int
    message_id: int | None = None
    in_group: bool = False
    # The catalog (bot/i18n.py) the answers are written in, long after the update.
    language: str = "en"


class Transform(StrEnum):
    """What a studio button (under "More…") does to a result, its input: a variation of it, or
    the picture on a larger canvas to be filled (zoomed out, or panned one way)."""

    VARY_SUBTLE = "vary_subtle"
    VARY_STRONG = "vary_strong"
    ZOOM_15 = "zoom_1.5"
    ZOOM_2 = "zoom_2"
    PAN_LEFT = "pan_left"
    PAN_RIGHT = "pan_right"
    PAN_UP = "pan_up"
    PAN_DOWN = "pan_down"


class Words(StrEnum):
    """A job for the text model rather than a picture: a prompt that would draw the input
    (/describe), or a short prompt made detailed (/enhance). The ledger's `kind` for it."""

    DESCRIBE = "describe"
    ENHANCE = "enhance"


@dataclass(frozen=True, slots=True)
class JobOptions:
    """What a result button or an inline query adds to a request: how many variants to make,
    whether the input is a result to be made larger unchanged or transformed, and the inline
    message (instead of the chat) that is to show the picture. A conversation's request also
    names the job it continues (`parent_id`), which turn of its thread it is, and whether the
    chat was in `/mode chat` (its result then gets a "New" button)."""

    images: int = 1
    enlarge: bool = False
    inline_message_id: str | None = None
    transform: Transform | None = None
    # A text job: it makes no picture (`images` is 0) and answers with words.
    words: Words | None = None
    parent_id: int | None = None
    thread_turn: int = 1
    conversation: bool = False


@dataclass(frozen=True, slots=True)
class NewJob:
    """What accepting a request writes down: enough to carry it out after a restart. Input
    images are Telegram `file_id`s, fetched when the job starts, never their bytes."""

    who: Requester
    order: Order
    output_format: str
    file_ids: tuple[str, ...]
    estimated_cost_usd: float
    created_at: datetime
    # Kept in the ledger after the job is done only with LOG_PROMPTS=true.
    keep_prompt: bool = False
    funding: Funding = Funding.FREE
    options: JobOptions = JobOptions()


@dataclass(frozen=True, slots=True, kw_only=True)
class Job(NewJob):
    """A stored job, as a worker or a restart reads it back."""

    id: int
    outcome: Outcome
    # The queue note's message, once one was sent.
    note_id: int | None = None
    # The upstream call was made: after a crash it may have been paid for, so it is not repeated.
    upstream_sent: bool = False
    # The delivered picture's `file_id`: the input of a "larger" button.
    result_file_id: str | None = None
    # The run this copy belongs to (each claim or take-over counts one up): the fencing token
    # that every write of the run names (bot/store/storage.py).
    attempt: int = 0
    # What the model said along with it to be sent back in a conversation (JSON), if anything.
    result_reasoning: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """The delivered picture as its job keeps it: its `file_id` (the input of the buttons under
    it and of the turns after it), its message, which a reply continuing the thread names, and
    what the model sent with it, to be sent back then."""

    file_id: str
    message_id: int | None = None
    reasoning: str | None = None


@dataclass(frozen=True, slots=True)
class Closing:
    """How a job ended, as its ledger line is to record it."""

    job_id: int
    outcome: Outcome
    cost_usd: float
    estimated: bool
    latency_ms: int
    # The run that closes it (Job.attempt); 0 for a job closed without ever being claimed.
    attempt: int = 0
    # Why no picture came (outcome REFUSED), and what Eden charged for it anyway: the operator's
    # cost, never the user's.
    no_picture_reason: NoPictureReason | None = None
    unbilled_cost_usd: float = 0.0
    result: Result | None = None  # the picture delivered, recorded in the same write
