"""Reading what an image really is (format, pixel size) from its bytes; making it fit a model."""

from __future__ import annotations

import io
import math
import warnings

import pillow_heif
from PIL import (
    Image,
    ImageChops,
    ImageDraw,
    ImageFilter,
    ImageOps,
    ImageStat,
    UnidentifiedImageError,
)

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


# Telegram's static stickers: PNG or WEBP, one side exactly 512 px, the other at most 512.
STICKER_SIDE = 512
STICKER_MAX_BYTES = 512 * 1024
# How far (per channel, 0-255) a pixel may be from the background's colour and still be
# background: a model's "flat" background drifts a little, and JPEG adds noise.
BACKGROUND_TOLERANCE = 48
# The flood fill runs on a grid of cells this many pixels wide (a Python loop over every pixel
# would take seconds); only cells wholly of the background's colour connect.
_FILL_CELL = 4
# A picture whose "background" is more than this share of it is left whole.
_MOSTLY = 0.95


def sticker(picture: Picture) -> Picture:
    """`picture` as a static sticker: its long side 512 px, and, if its four corners share one
    colour (the flat background the sticker preset asks for), that background made transparent
    as far as it reaches from the corners."""
    try:
        with Image.open(io.BytesIO(picture.data)) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGBA")
    except _DECODE_ERRORS as exc:
        raise BrokenImage(str(exc)) from exc
    scale = STICKER_SIDE / max(image.size)
    size = (
        min(STICKER_SIDE, max(1, round(image.width * scale))),
        min(STICKER_SIDE, max(1, round(image.height * scale))),
    )
    image = _without_background(image.resize(size, Image.Resampling.LANCZOS))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    quality = 90
    # A busy photo: WEBP keeps it, alpha and all, in far fewer bytes.
    while out.tell() > STICKER_MAX_BYTES and quality > 0:
        out = io.BytesIO()
        image.save(out, "WEBP", quality=quality)
        quality -= 15
    return inspect(out.getvalue())


def _without_background(image: Image.Image) -> Image.Image:
    width, height = image.size
    corners = [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]
    colours = [image.getpixel(c) for c in corners]
    background = colours[0]
    assert isinstance(background, tuple)
    if any(_distance(c, background) > BACKGROUND_TOLERANCE for c in colours):
        return image  # no flat background: a photo stays whole
    # Pixels near the background's colour (the largest channel difference within tolerance).
    plain = Image.new("RGB", image.size, background[:3])
    difference = ImageChops.difference(image.convert("RGB"), plain).getchannel(0)
    for channel in (1, 2):
        difference = ImageChops.lighter(
            difference, ImageChops.difference(image.convert("RGB"), plain).getchannel(channel)
        )
    near = difference.point(lambda v: 255 if v <= BACKGROUND_TOLERANCE else 0)
    # Which of them the corners reach: flood fill on a grid of cells, each wholly near or not.
    cells = (max(1, width // _FILL_CELL), max(1, height // _FILL_CELL))
    grid = near.resize(cells, Image.Resampling.BOX).point(lambda v: 255 if v == 255 else 0)
    for corner in ((0, 0), (cells[0] - 1, 0), (0, cells[1] - 1), (cells[0] - 1, cells[1] - 1)):
        if grid.getpixel(corner) == 255:
            ImageDraw.floodfill(grid, corner, 128)
    reached = grid.point(lambda v: 255 if v == 128 else 0).resize(image.size)
    # Grown by a cell, to take in the background's pixels along the subject's edge.
    reached = reached.filter(ImageFilter.MaxFilter(2 * _FILL_CELL + 1))
    background_mask = ImageChops.multiply(reached, near)
    if ImageStat.Stat(background_mask).mean[0] > _MOSTLY * 255:
        return image  # all background: nothing would be left of the picture
    image.putalpha(ImageChops.darker(image.getchannel("A"), ImageChops.invert(background_mask)))
    return image


def _distance(colour: object, other: tuple[int, ...]) -> int:
    assert isinstance(colour, tuple)
    return max(abs(int(a) - int(b)) for a, b in zip(colour[:3], other[:3], strict=True))


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
