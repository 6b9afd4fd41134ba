"""Image work off the event loop: decoding, conversion, canvases and stickers on two threads, and
the refusal (InputRejected) a user gets for a picture that cannot be used."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bot import imaging, texts
from bot.domain import Picture

# Decoding an input takes a core for up to seconds and up to ~160 MB (imaging.MAX_PIXELS), so at
# most two run at once, off the event loop; the rest wait their turn. Two worker threads rather
# than a semaphore around `to_thread`: a request cancelled mid-decoding would free a semaphore at
# once, while its thread, which cannot be stopped, went on decoding.
_DECODING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode")


class InputRejected(Exception):
    """A user's input that cannot become a request; the message is the reply to give."""


async def _off_loop(work: Callable[[], Picture]) -> Picture:
    """`work` on the decoding threads; a picture that does not decode is refused to the user."""
    try:
        return await asyncio.wrap_future(_DECODING.submit(work))
    except imaging.BrokenImage as exc:
        raise InputRejected(texts.BROKEN_IMAGE()) from exc


async def prepare(picture: Picture, accepted: frozenset[str]) -> Picture:
    """`picture` decoded and, if the model needs it, converted (imaging.fit_for_model)."""
    return await _off_loop(lambda: imaging.fit_for_model(picture, accepted))


async def as_sticker(picture: Picture) -> Picture:
    """`picture` made a static sticker (imaging.sticker)."""
    return await _off_loop(lambda: imaging.sticker(picture))


async def as_png(picture: Picture) -> Picture:
    """`picture` losslessly as a PNG (imaging.as_png): the form of the "Original" file."""
    return await _off_loop(lambda: imaging.as_png(picture))


async def on_canvas(
    picture: Picture,
    scale: tuple[float, float],
    anchor: tuple[float, float],
    accepted: frozenset[str],
) -> Picture:
    """`picture` padded on a larger canvas (imaging.on_canvas), made fit for the model."""
    return await _off_loop(
        lambda: imaging.fit_for_model(imaging.on_canvas(picture, scale, anchor), accepted)
    )
