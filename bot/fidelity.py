"""The picture is the proof: its real shape against the one asked for, and a warning when a
gateway drew something else."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain import ImageRequest, ImageResult, Picture
from bot.lineup.catalog import Shape, shape_of
from bot.ops.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a result really is, and what was asked where that differs (None where it agrees)."""

    shape: Shape
    asked_ratio: str | None = None
    asked_size: str | None = None

    @property
    def as_asked(self) -> bool:
        return self.asked_ratio is None and self.asked_size is None


def compare(request: ImageRequest, picture: Picture) -> Delivered:
    """The picture's real shape, and what the request asked where that differs."""
    shape = shape_of(picture.width, picture.height)
    ratio, size = request.aspect_ratio, request.image_size
    return Delivered(
        shape,
        asked_ratio=None if shape.aspect_ratio == ratio else ratio,
        asked_size=None if shape.image_size == size else size,
    )


class FidelityCheck:
    """Compares each result's pixels with its request. A mismatch is counted every time and
    logged once per (model, protocol, ratio, size): a gateway that drops the ratio does it to
    every request, and one line says all an operator needs."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._metrics = metrics
        # At most models x 2 protocols x 14 ratios x 4 sizes entries.
        self._warned: set[tuple[str, str, str, str]] = set()

    def check(self, request: ImageRequest, result: ImageResult) -> Delivered:
        delivered = compare(request, result.picture)
        if not delivered.as_asked:
            self._mismatch(request, result, delivered)
        return delivered

    def _mismatch(self, request: ImageRequest, result: ImageResult, delivered: Delivered) -> None:
        if self._metrics:
            counter = self._metrics.shape_mismatches
            for what, asked in (("ratio", delivered.asked_ratio), ("size", delivered.asked_size)):
                if asked:
                    counter.labels(request.model, result.protocol, what).inc()
        key = (request.model, result.protocol, request.aspect_ratio, request.image_size)
        if key in self._warned:
            return
        self._warned.add(key)
        shape = delivered.shape
        log.warning(
            "asked %s for %s at %s via %s with %s, received %dx%d (%s, %s): the upstream does "
            "not honour these fields; try EDENAI_API_MODE=%s or `python -m bot check --live`",
            request.model,
            request.aspect_ratio,
            request.image_size,
            result.protocol,
            result.shape_sent,
            shape.width,
            shape.height,
            shape.aspect_ratio,
            shape.image_size,
            "chat" if result.protocol == "images" else "images",
        )
