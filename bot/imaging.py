"""Reading what an image really is (format, pixel size) from its bytes; making it fit a model."""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from bot.domain import Picture

pillow_heif.register_heif_opener()

# Gemini takes about 7 MB per inline image.
MAX_INPUT_BYTES = 7 * 1024 * 1024


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


def fit_for_model(
    picture: Picture, accepted: frozenset[str], max_bytes: int = MAX_INPUT_BYTES
) -> Picture:
    """`picture` itself when the model reads it as is, else re-encoded (and shrunk) until it is."""
    if picture.mime in accepted and len(picture.data) <= max_bytes:
        return picture
    with Image.open(io.BytesIO(picture.data)) as opened:
        image = ImageOps.exif_transpose(opened)
        image.load()
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if has_alpha else "RGB")
    while True:
        out = io.BytesIO()
        if has_alpha:
            image.save(out, "PNG", optimize=True)
        else:
            image.save(out, "JPEG", quality=90)
        if out.tell() <= max_bytes:
            return inspect(out.getvalue())
        # Shrink by the byte overshoot's square root (bytes grow with area), with some margin.
        scale = (max_bytes / out.tell()) ** 0.5 * 0.9
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
