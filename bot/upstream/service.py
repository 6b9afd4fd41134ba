"""The one interface the bot sees of any image provider."""

from __future__ import annotations

from typing import Protocol

from bot.domain import ImageRequest, ImageResult


class ImageService(Protocol):
    """Anything that turns an ImageRequest into an ImageResult or raises an UpstreamError."""

    async def generate(self, request: ImageRequest) -> ImageResult: ...

    async def aclose(self) -> None: ...
