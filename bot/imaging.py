"""Reading what an image really is (format, pixel size) from its bytes; making it fit a model."""

from __future__ import annotations

import io
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
            # The first frame of an animation; upright, as the phone showed it.
            image = ImageOps.exif_transpose(opened)
            image.load()
    except _DECODE_ERRORS as exc:
        raise BrokenImage(str(exc)) from exc
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


def _decode(image: Image.Image) -> None:
    """Decode every byte of `image`, keeping few pixels: a JPEG (most photos) decodes at an
    eighth of its size, which still reads all of its data; other formats ignore the request."""
    image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()


# The grey a canvas's new area is filled with: neutral, so the model takes it for blank space
# rather than for part of the scene.
CANVAS_FILL = (128, 128, 128)
# A canvas larger than this is scaled down as a whole: the model draws at its own tiers anyway.
MAX_CANVAS_PIXELS = 16_000_000


def on_canvas(picture: Picture, scale: tuple[float, float], anchor: tuple[float, float]) -> Picture:
    """`picture` on a canvas `scale` times its width and height, filled with CANVAS_FILL, the
    picture placed at `anchor` (0 left/top, 0.5 centre, 1 right/bottom); as a PNG."""
    try:
        with Image.open(io.BytesIO(picture.data)) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except _DECODE_ERRORS as exc:
        raise BrokenImage(str(exc)) from exc
    width, height = round(image.width * scale[0]), round(image.height * scale[1])
    shrink = min(1.0, (MAX_CANVAS_PIXELS / (width * height)) ** 0.5)
    if shrink < 1.0:
        image = image.resize(
            (max(1, round(image.width * shrink)), max(1, round(image.height * shrink)))
        )
        width, height = round(width * shrink), round(height * shrink)
    canvas = Image.new("RGB", (width, height), CANVAS_FILL)
    left = round((width - image.width) * anchor[0])
    top = round((height - image.height) * anchor[1])
    canvas.paste(image, (left, top))
    out = io.BytesIO()
    canvas.save(out, "PNG")
    return inspect(out.getvalue())


def as_png(picture: Picture) -> Picture:
    """`picture` losslessly as a PNG (itself if it is one): the form of the "Original" file."""
    if picture.mime == "image/png":
        return picture
    try:
        with Image.open(io.BytesIO(picture.data)) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
    except _DECODE_ERRORS as exc:
        raise BrokenImage(str(exc)) from exc
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    out = io.BytesIO()
    image.convert("RGBA" if has_alpha else "RGB").save(out, "PNG")
    return inspect(out.getvalue())
