"""Making a job's pictures: the upstream request for it (a result to enlarge gets an instruction
to keep it unchanged; one to vary, zoom out or pan gets its own, and a larger canvas) and one
picture, or several made at once for x4."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.decoding import on_canvas
from bot.domain import ImageRequest, ImageResult, Order, Picture, Turn
from bot.jobs.model import JobOptions, Transform
from bot.lineup.catalog import capabilities_for, nearest_ratio, nearest_size
from bot.upstream import ImageService

log = logging.getLogger(__name__)

# For the model, not the user: what "the same picture, larger" means.
ENLARGE_INSTRUCTION = (
    "Reproduce this image exactly as it is, at a higher resolution. Keep the composition, "
    "subjects, colours, lighting, style and any text unchanged; add, remove or alter nothing."
)


def fit_to_model(order: Order) -> Order:
    """`order` with a size tier its model has: the nearest one, so that no request ever sends a
    tier the model refuses (Nano Banana 2.1 answers 512 with HTTP 400). A job written before
    its model changed, or a button under an older result, may name one."""
    size = nearest_size(order.image_size, capabilities_for(order.model).image_sizes)
    return order if size == order.image_size else dataclasses.replace(order, image_size=size)


_VARY_SUBTLE = (
    "Make a close variation of this image: keep its composition, subjects, layout, style and "
    "colours, and change only small details."
)
_VARY_STRONG = (
    "Make a free variation of this image: keep its subject and spirit, and explore a different "
    "composition, pose, viewpoint or lighting."
)
_FILL = (
    "The grey area around this image is empty canvas. Extend the image into it seamlessly: "
    "continue the scene, its perspective, lighting and style, leave no grey and no border, and "
    "keep the existing part unchanged."
)
# The prompt the picture was made from, after a transform's instruction: what the scene is.
MADE_FROM = "The image was made from this request: {prompt}"


@dataclass(frozen=True, slots=True)
class Canvas:
    """A larger canvas for a transform: its width and height in the picture's, and where the
    picture sits on it (0 left/top, 0.5 centre, 1 right/bottom)."""

    scale: tuple[float, float]
    anchor: tuple[float, float]


# Panning adds half the picture on one side.
_PAN = 1.5
CANVASES: dict[Transform, Canvas] = {
    Transform.ZOOM_15: Canvas((1.5, 1.5), (0.5, 0.5)),
    Transform.ZOOM_2: Canvas((2.0, 2.0), (0.5, 0.5)),
    Transform.PAN_LEFT: Canvas((_PAN, 1.0), (1.0, 0.5)),
    Transform.PAN_RIGHT: Canvas((_PAN, 1.0), (0.0, 0.5)),
    Transform.PAN_UP: Canvas((1.0, _PAN), (0.5, 1.0)),
    Transform.PAN_DOWN: Canvas((1.0, _PAN), (0.5, 0.0)),
}
INSTRUCTIONS: dict[Transform, str] = {
    Transform.VARY_SUBTLE: _VARY_SUBTLE,
    Transform.VARY_STRONG: _VARY_STRONG,
    **dict.fromkeys(CANVASES, _FILL),
}


async def upstream_request(
    order: Order,
    options: JobOptions,
    pictures: tuple[Picture, ...],
    requester: int | None,
    history: tuple[Turn, ...] = (),
) -> ImageRequest:
    """The request to send for a job whose input pictures are ready, on behalf of `requester`
    (whose failures the circuit breaker counts once), after a conversation's earlier turns."""
    request = fit_to_model(order).with_images(pictures, requester, history)
    if options.enlarge:
        return dataclasses.replace(request, prompt=ENLARGE_INSTRUCTION)
    transform = options.transform
    if transform is None:
        return request
    prompt = f"{INSTRUCTIONS[transform]}\n\n{MADE_FROM.format(prompt=order.prompt)}"
    canvas = CANVASES.get(transform)
    if canvas is None or not pictures:
        return dataclasses.replace(request, prompt=prompt)
    accepted = capabilities_for(order.model).input_mimes
    padded = await on_canvas(pictures[0], canvas.scale, canvas.anchor, accepted)
    return dataclasses.replace(request, prompt=prompt, images=(padded,))


def transformed(order: Order, transform: Transform) -> Order:
    """The order of a job that transforms `order`'s result: one input, and for a pan the model's
    ratio nearest to the wider (or taller) canvas."""
    ratio = order.aspect_ratio
    canvas = CANVASES.get(transform)
    if canvas is not None and canvas.scale[0] != canvas.scale[1]:
        width, height = (int(side) for side in ratio.split(":"))
        ratio = nearest_ratio(
            width * canvas.scale[0],
            height * canvas.scale[1],
            capabilities_for(order.model).aspect_ratios,
        )
    return dataclasses.replace(order, aspect_ratio=ratio, inputs=1)


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
