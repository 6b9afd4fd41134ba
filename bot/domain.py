"""The data that flows from the handlers to the image service and back: requests and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """What the user asked for."""

    GENERATE = "generate"
    EDIT = "edit"


@dataclass(frozen=True, slots=True)
class Picture:
    """Image bytes with the format and size read from the bytes themselves."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg"}.get(self.mime, self.mime.removeprefix("image/"))


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """One generation or edit, with the chat's settings already resolved."""

    prompt: str
    model: str
    aspect_ratio: str
    image_size: str
    images: tuple[Picture, ...] = ()

    @property
    def kind(self) -> Kind:
        return Kind.EDIT if self.images else Kind.GENERATE


@dataclass(frozen=True, slots=True)
class ImageResult:
    """What the image service produced, with the upstream's accounting when it sent any."""

    picture: Picture
    text: str | None = None
    cost_usd: float | None = None
    usage: dict[str, int] = field(default_factory=dict)
