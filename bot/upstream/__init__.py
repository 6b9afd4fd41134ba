"""Talking to Eden AI: the ImageService interface, the Eden client, the layers that make it
resilient, and the upstream errors."""

from __future__ import annotations

from bot.upstream.client import ApiMode, EdenClient
from bot.upstream.errors import UpstreamError
from bot.upstream.resilience import CircuitBreaker, RetryingService
from bot.upstream.service import ImageService, TextService

__all__ = [
    "ApiMode",
    "CircuitBreaker",
    "EdenClient",
    "ImageService",
    "RetryingService",
    "TextService",
    "UpstreamError",
]
