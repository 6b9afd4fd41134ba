"""Reading what an image really is (format, pixel size) from its bytes, with Pillow."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from bot.domain import Picture


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can identify."""


def inspect(data: bytes) -> Picture:
    """A Picture for `data`; only the header is parsed, the pixels are never decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            # Phones write multi-picture JPEGs (MPO); the first picture is a plain JPEG.
            fmt = "JPEG" if image.format == "MPO" else image.format or ""
            mime = Image.MIME.get(fmt, "")
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise NotAnImage(str(exc)) from exc
    if not mime.startswith("image/"):
        raise NotAnImage(f"unsupported image format {mime or 'unknown'}")
    return Picture(data=data, mime=mime, width=width, height=height)
