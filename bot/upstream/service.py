"""The interfaces the bot sees of any image provider, and of its text model."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from bot.domain import ImageRequest, ImageResult, TextRequest, TextResult


class ImageService(Protocol):
    """Turns an ImageRequest into an ImageResult, or raises an UpstreamError.

    `async with service.generate(request) as result:` the result (megabytes of image) is the
    caller's inside the block; leaving it frees the service to read the next one. That bounds
    how many images sit in memory when many generations finish at once.
    """

    def generate(self, request: ImageRequest) -> AbstractAsyncContextManager[ImageResult]: ...

    async def aclose(self) -> None: ...


class TextService(Protocol):
    """Answers a TextRequest with the model's words, or raises an UpstreamError."""

    async def complete(self, request: TextRequest) -> TextResult: ...
