"""Talking to Eden AI: the ImageService interface, its Eden client, and the upstream errors."""

from __future__ import annotations

from typing import Protocol

from bot.domain import ImageRequest, ImageResult
from bot.upstream.client import ApiMode, EdenClient
from bot.upstream.errors import UpstreamError


class ImageService(Protocol):
    """Anything that turns an ImageRequest into an ImageResult or raises an UpstreamError."""

    async def generate(self, request: ImageRequest) -> ImageResult: ...

    async def aclose(self) -> None: ...


__all__ = ["ApiMode", "EdenClient", "ImageService", "UpstreamError"]
