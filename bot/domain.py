"""The data that flows from the handlers to the image service and back: requests and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class Kind(StrEnum):
    """What the user asked for."""

    GENERATE = "generate"
    EDIT = "edit"


class Outcome(StrEnum):
    """Where a request stands, or how it ended: the ledger's `outcome` column."""

    QUEUED = "queued"
    RUNNING = "running"
    OK = "ok"
    CANCELLED = "cancelled"  # by the user's /cancel or Cancel button
    INTERRUPTED = "interrupted"  # by a restart, after its upstream call was made
    BAD_INPUT = "bad_input"  # an input image that could not be fetched or used
    UNEXPECTED_ERROR = "unexpected_error"
    # Upstream failures, one per UpstreamError class (bot/upstream/errors.py).
    UPSTREAM_ERROR = "upstream_error"
    CONNECTION_ERROR = "connection_error"
    TIMEOUT = "timeout"
    HTTP_ERROR = "http_error"
    BAD_REQUEST = "bad_request"
    CHAT_UNSUPPORTED = "chat_unsupported"
    AUTH_FAILED = "auth_failed"
    NO_CREDITS = "no_credits"
    MODEL_NOT_FOUND = "model_not_found"
    RATE_LIMITED = "rate_limited"
    PROVIDER_ERROR = "provider_error"
    MALFORMED_RESPONSE = "malformed_response"
    REPLY_TOO_LARGE = "reply_too_large"
    HOSTED_IMAGE_FAILED = "hosted_image_failed"
    REFUSED = "refused"
    CIRCUIT_OPEN = "circuit_open"

    @property
    def open(self) -> bool:
        """Still to be answered: queued or running."""
        return self in (Outcome.QUEUED, Outcome.RUNNING)


class NoPictureReason(StrEnum):
    """Why a generation ended without a picture (an outcome REFUSED): Gemini's finish reasons as
    gateways pass them on, and the forms an OpenAI-style gateway gives them. The ledger's
    `no_picture_reason` column."""

    IMAGE_SAFETY = "image_safety"  # the picture made was blocked
    IMAGE_PROHIBITED_CONTENT = "image_prohibited_content"
    IMAGE_RECITATION = "image_recitation"  # it would copy a protected work
    IMAGE_OTHER = "image_other"
    NO_IMAGE = "no_image"  # the model made none
    SAFETY = "safety"  # the prompt was blocked
    PROHIBITED_CONTENT = "prohibited_content"
    BLOCKLIST = "blocklist"  # a blocked term
    SPII = "spii"  # sensitive personal information
    CONTENT_FILTER = "content_filter"  # a gateway's word for any of the blocks
    REFUSAL = "refusal"  # the model declined (OpenAI's `message.refusal`)
    TEXT_ONLY = "text_only"  # the model answered in words only
    EMPTY = "empty"  # nothing at all

    @classmethod
    def of(
        cls, finish_reason: str | None, refusal: str | None, text: str | None
    ) -> NoPictureReason:
        """The reason for an answer without a picture: the finish reason where it names one
        (`IMAGE_SAFETY`, `FinishReason.SAFETY`, `content_filter`...), else what the answer holds."""
        name = (finish_reason or "").strip().rsplit(".", 1)[-1].lower()
        named = next((r for r in cls if r.value == name), None)
        if named is not None and named not in (cls.REFUSAL, cls.TEXT_ONLY, cls.EMPTY):
            return named
        if refusal and refusal.strip():
            return cls.REFUSAL
        return cls.TEXT_ONLY if text and text.strip() else cls.EMPTY


class Funding(StrEnum):
    """What pays for a request: the user's free allowance, or one credit bought with Stars (given
    back if the request does not end with a picture). The ledger's `funding` column."""

    FREE = "free"
    CREDIT = "credit"
    # A credit that a refund of its payment took back while the job was open: never given back.
    REFUNDED = "refunded"


class Stopped(IntEnum):
    """What a Cancel stopped, the costliest first when it stopped several: nothing, a job that
    costs nothing, or one already sent upstream, which is paid all the same."""

    NOTHING = 0
    FREE = 1
    PAID = 2


@dataclass(frozen=True, slots=True)
class Picture:
    """Image bytes with the format and size read from the bytes themselves."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    # More than one frame (an animated GIF, WEBP or PNG): a model gets only the first.
    animated: bool = False

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg"}.get(self.mime, self.mime.removeprefix("image/"))


@dataclass(frozen=True, slots=True)
class Turn:
    """An earlier turn of a conversation: what the user wrote and sent, and the model's picture."""

    prompt: str
    images: tuple[Picture, ...]
    result: Picture
    # The model's `reasoning_details` with that picture (JSON), if it gave any.
    reasoning: str | None = None


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """One generation or edit, with the chat's settings already resolved; `history` holds the
    conversation's earlier turns, oldest first."""

    prompt: str
    model: str
    aspect_ratio: str
    image_size: str
    images: tuple[Picture, ...] = ()
    # Whom it is for (never sent upstream): one user's failures must not shut the service for
    # everyone (upstream/resilience.py, CircuitBreaker).
    requester: int | None = None
    history: tuple[Turn, ...] = ()

    @property
    def kind(self) -> Kind:
        return Kind.EDIT if self.images or self.history else Kind.GENERATE


@dataclass(frozen=True, slots=True)
class Order:
    """A request as it is admitted: its input images are counted, not yet downloaded (a user
    over a limit costs no download and no decoding)."""

    prompt: str
    model: str
    aspect_ratio: str
    image_size: str
    inputs: int = 0

    @property
    def kind(self) -> Kind:
        return Kind.EDIT if self.inputs else Kind.GENERATE

    def with_images(
        self,
        images: tuple[Picture, ...],
        requester: int | None = None,
        history: tuple[Turn, ...] = (),
    ) -> ImageRequest:
        return ImageRequest(
            self.prompt,
            self.model,
            self.aspect_ratio,
            self.image_size,
            images,
            requester=requester,
            history=history,
        )


@dataclass(frozen=True, slots=True)
class ImageResult:
    """What the image service produced, with the upstream's accounting when it sent any."""

    picture: Picture
    text: str | None = None
    cost_usd: float | None = None
    usage: dict[str, int] = field(default_factory=dict)
    # How the ratio and tier were asked for: the protocol, and the body fields that carried them.
    protocol: str = ""
    shape_sent: dict[str, Any] = field(default_factory=dict)
    # The model's `reasoning_details` (JSON), for the next turn of a conversation.
    reasoning: str | None = None


@dataclass(frozen=True, slots=True)
class TextRequest:
    """A question for the text model: an instruction, with any pictures it is about."""

    prompt: str
    model: str
    images: tuple[Picture, ...] = ()


@dataclass(frozen=True, slots=True)
class TextResult:
    """The text model's answer, with Eden's cost when it sent one."""

    text: str
    cost_usd: float | None = None
