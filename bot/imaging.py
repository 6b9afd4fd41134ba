"""Reading what an image really is (format, pixel size) from its bytes; making it fit a model."""

from __future__ import annotations

import io
import math
import warnings

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from bot.domain import Picture

pillow_heif.register_heif_opener()

# Gemini takes about 7 MB per inline image.
MAX_INPUT_BYTES = 7 * 1024 * 1024
# Decoding costs memory in proportion to pixels (40 Mpx: 120-160 MB), and a few kilobytes of GIF
# or PNG can declare hundreds of megapixels. Checked from the header, before anything is decoded;
# phone cameras stay under it (a 200 Mpx sensor saves 50 Mpx photos by default, at most).
MAX_PIXELS = 40_000_000
# Converting an image costs 4 bytes a pixel more, so one over this many pixels (about a 4K
# result's) is converted reduced by a whole factor: a JPEG decoded smaller, others reduced band
# by band from their decoded pixels (a 6300x6300 GIF held 228 MB more when converted whole).
MAX_CONVERTED_PIXELS = 17_000_000
# Rows of pixels converted at a time when reducing, per unit of the factor.
_BAND_ROWS = 256
# Pillow warns of its own, higher bound (~89 Mpx) as it opens a file; MAX_PIXELS refuses such
# files before any decoding, so the warning would only repeat it in the log.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# What Pillow raises for bytes it cannot decode (truncated or damaged files).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)


class NotAnImage(ValueError):
    """The bytes are not an image Pillow can identify."""


class TooManyPixels(NotAnImage):
    """An image over MAX_PIXELS: a decompression bomb, or simply too big to decode."""


class BrokenImage(NotAnImage):
    """The header reads but the pixels do not decode: a truncated or damaged file."""


def inspect(data: bytes) -> Picture:
    """A Picture for `data`; only the header is parsed, the pixels are never decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            # Phones write multi-picture JPEGs (MPO); the first picture is a plain JPEG.
            fmt = "JPEG" if image.format == "MPO" else image.format or ""
            mime = Image.MIME.get(fmt, "")
            width, height = image.size
            # MPO's pictures are views of one photo; a GIF's, WEBP's or PNG's are an animation.
            animated = fmt != "JPEG" and bool(getattr(image, "is_animated", False))
    except Image.DecompressionBombError as exc:
        # Pillow's own bound (twice its warning level) is far over ours.
        raise TooManyPixels(str(exc)) from exc
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        raise NotAnImage(str(exc)) from exc
    if not mime.startswith("image/"):
        raise NotAnImage(f"unsupported image format {mime or 'unknown'}")
    if width * height > MAX_PIXELS:
        raise TooManyPixels(f"{width}x{height} is over {MAX_PIXELS:,} pixels")
    return Picture(data=data, mime=mime, width=width, height=height, animated=animated)


def fit_for_model(
    picture: Picture, accepted: frozenset[str], max_bytes: int = MAX_INPUT_BYTES
) -> Picture:
    """`picture` itself when the model reads it as is, else its first frame re-encoded (and
    shrunk) until it does. Either way its pixels are decoded first: a truncated file raises
    BrokenImage here rather than fail upstream, where it may be paid for."""
    try:
        with Image.open(io.BytesIO(picture.data)) as opened:
            if picture.mime in accepted and len(picture.data) <= max_bytes and not picture.animated:
                _decode(opened)
                return picture
            factor = _reduction(opened.width * opened.height)
            if factor > 1:  # a JPEG decodes at 1/2, 1/4 or 1/8 of its size; others ignore it
                opened.draft(opened.mode, (opened.width // factor, opened.height // factor))
            # The first frame of an animation; upright, as the phone showed it.
            opened.load()
            ImageOps.exif_transpose(opened, in_place=True)
            has_alpha = opened.mode in ("RGBA", "LA", "PA") or "transparency" in opened.info
            mode = "RGBA" if has_alpha else "RGB"
            image = _converted(opened, mode, _reduction(opened.width * opened.height))
    except _DECODE_ERRORS as exc:
        raise BrokenImage(str(exc)) from exc
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


def _reduction(pixels: int) -> int:
    """The whole factor that brings `pixels` down to MAX_CONVERTED_PIXELS or fewer."""
    return max(1, math.ceil(math.sqrt(pixels / MAX_CONVERTED_PIXELS)))


def _converted(image: Image.Image, mode: str, factor: int) -> Image.Image:
    """`image` in `mode`, `factor` times smaller: band by band, so that it is never held
    whole at full size in the new mode."""
    if factor == 1:
        return image.convert(mode)
    width, height = image.size
    out = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = factor * _BAND_ROWS
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(height, top + rows))).convert(mode)
        out.paste(band.reduce(factor), (0, top // factor))
    return out


def _decode(image: Image.Image) -> None:
    """Decode every byte of `image`, keeping few pixels: a JPEG (most photos) decodes at an
    eighth of its size, which still reads all of its data; other formats ignore the request."""
    image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()
