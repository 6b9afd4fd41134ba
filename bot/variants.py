"""Making a job's pictures: the upstream request for it (a result to enlarge gets an instruction
to keep it unchanged) and one picture, or several made at once for x4."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator

from bot.domain import ImageRequest, ImageResult, Order, Picture, Turn
from bot.jobs import JobOptions
from bot.upstream import ImageService

log = logging.getLogger(__name__)

# For the model, not the user: what "the same picture, larger" means.
ENLARGE_INSTRUCTION = (
    "Reproduce this image exactly as it is, at a higher resolution. Keep the composition, "
    "subjects, colours, lighting, style and any text unchanged; add, remove or alter nothing."
)


def upstream_request(
    order: Order, options: JobOptions, pictures: tuple[Picture, ...], history: tuple[Turn, ...] = ()
) -> ImageRequest:
    request = order.with_images(pictures, history)
    return dataclasses.replace(request, prompt=ENLARGE_INSTRUCTION) if options.enlarge else request


def total_cost(results: tuple[ImageResult, ...]) -> float | None:
    """What the pictures cost, if the upstream reported every one's."""
    costs = [r.cost_usd for r in results]
    return None if None in costs else sum(c for c in costs if c is not None)


@contextlib.asynccontextmanager
async def make(
    service: ImageService, request: ImageRequest, count: int
) -> AsyncIterator[tuple[ImageResult, ...]]:
    """`count` pictures for `request`. Several are made at once; those that failed are left out
    (and logged), and the first failure is raised only if none was made."""
    if count == 1:
        async with service.generate(request) as result:
            yield (result,)
        return
    made = await asyncio.gather(
        *(_one(service, request) for _ in range(count)), return_exceptions=True
    )
    results = tuple(r for r in made if isinstance(r, ImageResult))
    failures = [r for r in made if isinstance(r, BaseException)]
    if not results:
        raise failures[0]
    for failure in failures:
        log.warning("one of %d variants failed: %s", count, failure)
    yield results


async def _one(service: ImageService, request: ImageRequest) -> ImageResult:
    # Out of the service's block at once: it holds a share of the bytes the service reads at a
    # time, and a 4K picture holds all of it, so four held together would wait on each other.
    async with service.generate(request) as result:
        return result
