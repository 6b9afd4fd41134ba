"""The records the storage reads and writes: frozen values at its boundary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChatPreferences:
    """What a chat chose; None means "the operator's default"."""

    aspect_ratio: str | None = None
    image_size: str | None = None
    model: str | None = None
    output_format: str | None = None
    conversation: str | None = None  # a bot.conversation.Mode


@dataclass(frozen=True, slots=True)
class StoredChat:
    """A chat as the bot keeps it: its preferences, and whether someone there chose a preset for
    their next prompt (read in the same trip, so that most prompts need not try to take one)."""

    preferences: ChatPreferences = ChatPreferences()
    preset_waiting: bool = False


@dataclass(frozen=True, slots=True)
class Spend:
    """A user's images and money over a period; requests still running count at their estimate."""

    images: int = 0
    cost_usd: float = 0.0
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Allowance:
    """What admitting a user's next request weighs, read in one trip: their requests in flight,
    and what they used of their free allowance today and this month."""

    in_flight: int
    today: Spend
    month: Spend


@dataclass(frozen=True, slots=True)
class DayTotals:
    day: str
    ok: int
    failed: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class UserTotals:
    user_id: int
    images: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Limits:
    """An operator's override for one user or chat; None keeps the .env default."""

    daily_images: int | None = None
    monthly_budget_usd: float | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change an admin made from Telegram: who, what, to whom, when."""

    at: datetime
    admin_id: int
    action: str
    subject_id: int | None
    value: str | None


@dataclass(frozen=True, slots=True)
class Payment:
    """A Telegram Stars payment: the credits it bought, and whether it was refunded."""

    charge_id: str
    user_id: int
    credits: int
    stars: int
    refunded: bool = False


@dataclass(frozen=True, slots=True)
class AlbumItem:
    """One message of an album, as any replica may have received it."""

    message_id: int
    message: str  # the message as Telegram's JSON


@dataclass(frozen=True, slots=True)
class ChosenPreset:
    """A preset a user picked from /presets, waiting for their next prompt in that chat."""

    source: str  # bot.presets.PresetSource
    name: str


@dataclass(frozen=True, slots=True)
class StickerSetState:
    """The sticker set the bot adds a user's stickers to: its number (the first is 1) and how
    many stickers the bot has put in it."""

    number: int
    stickers: int


@dataclass(frozen=True, slots=True)
class RemixPrompt:
    """A Remix tap's question in a chat: its reply from `user_id` remixes `job_id`'s picture."""

    chat_id: int
    message_id: int
    job_id: int
    user_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PastResult:
    """One of a user's delivered pictures, for /history."""

    job_id: int
    prompt: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PictureRef:
    """A saved reference: a picture its owner (a user, or a group: a negative id) named."""

    id: int
    owner_id: int
    name: str
    file_id: str
    photo: bool  # sent as a photo, else as an image file


class CreditsExhausted(Exception):
    """A job to be paid with a credit found none left (an admin's refund came in between)."""
