"""Reading image bytes and fitting input images to what a model accepts."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot.imaging import (
    CANVAS_FILL,
    MAX_CANVAS_PIXELS,
    MAX_PIXELS,
    BrokenImage,
    NotAnImage,
    TooManyPixels,
    as_png,
    fit_for_model,
    inspect,
    on_canvas,
    sticker,
)
from tests.fakes.images import jpeg, png
from tests.fakes.process import REPO

COMMON = frozenset({"image/png", "image/jpeg", "image/webp"})


def _alpha(image: Image.Image, xy: tuple[int, int]) -> int:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel[3]


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def test_inspect_reads_format_and_size() -> None:
    picture = inspect(png(321, 123))
    assert (picture.mime, picture.width, picture.height) == ("image/png", 321, 123)
    assert inspect(jpeg(10, 20)).mime == "image/jpeg"


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7 not an image", b"\x89PNG\r\n\x1a\n truncated"])
def test_inspect_refuses_what_is_no_image(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        inspect(data)


def test_accepted_images_pass_untouched() -> None:
    picture = inspect(png(40, 30))
    assert fit_for_model(picture, COMMON) is picture


def test_gif_becomes_a_format_the_model_reads() -> None:
    picture = fit_for_model(inspect(_encode(Image.new("RGB", (40, 30), (9, 9, 9)), "GIF")), COMMON)
    assert picture.mime in COMMON
    assert (picture.width, picture.height) == (40, 30)


def test_heic_is_read_and_converted_for_models_without_heic() -> None:
    heic = inspect(_encode(Image.new("RGB", (64, 48), (1, 2, 3)), "HEIF"))
    assert heic.mime == "image/heif"
    assert fit_for_model(heic, COMMON | {"image/heif"}) is heic
    converted = fit_for_model(heic, COMMON)
    assert (converted.mime, converted.width, converted.height) == ("image/jpeg", 64, 48)


def test_an_oversized_image_is_shrunk_under_the_limit() -> None:
    noise = Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3))
    big = inspect(_encode(noise, "PNG"))
    assert len(big.data) > 1_000_000
    small = fit_for_model(big, COMMON, max_bytes=300_000)
    assert len(small.data) <= 300_000
    assert small.width < 1200
    assert small.width == small.height


def _gif_declaring(width: int, height: int) -> bytes:
    """A GIF whose header declares `width` x `height`, with one pixel of data: what a bomb's
    header looks like, in 40 bytes."""
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + frame + b";"


@pytest.mark.parametrize(
    ("width", "height"),
    [(8000, 5001), (65535, 65535)],  # just over the cap; far over Pillow's own bound
)
def test_too_many_pixels_are_refused_from_the_header(width: int, height: int) -> None:
    assert width * height > MAX_PIXELS
    with pytest.raises(TooManyPixels):
        inspect(_gif_declaring(width, height))
    assert inspect(_gif_declaring(8000, 5000)).width == 8000  # at the cap: fine


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_truncated_image_is_broken_even_in_a_format_the_model_reads(fmt: str) -> None:
    noise = Image.frombytes("RGB", (200, 150), os.urandom(200 * 150 * 3))
    whole = _encode(noise, fmt)
    picture = inspect(whole[: len(whole) * 2 // 3])
    with pytest.raises(BrokenImage):
        fit_for_model(picture, COMMON)
    assert fit_for_model(inspect(whole), COMMON).data == whole


def test_an_animation_becomes_its_first_frame() -> None:
    frames = [Image.new("RGB", (30, 20), color) for color in ((250, 0, 0), (0, 0, 250))]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    animated = inspect(out.getvalue())
    assert animated.animated
    assert animated.mime in COMMON  # readable as is, but a model would see one frame anyway
    still = fit_for_model(animated, COMMON)
    assert not still.animated
    red, _, blue = Image.open(io.BytesIO(still.data)).convert("RGB").getpixel((15, 10))  # type: ignore[misc]
    assert red > 240 and blue < 10  # the first frame, give or take JPEG's rounding
    assert not inspect(png(30, 20)).animated


def test_a_sticker_keeps_a_picture_without_a_flat_background_whole() -> None:
    # All one colour: the "background" would be everything, and nothing would be left.
    flat = sticker(inspect(jpeg(300, 200)))
    with Image.open(io.BytesIO(flat.data)) as image:
        assert (image.format, image.size) == ("PNG", (512, 341))
        assert _alpha(image.convert("RGBA"), (10, 10)) == 255


def test_a_busy_sticker_is_made_webp_within_telegrams_limit() -> None:
    noise = Image.frombytes("RGB", (900, 1200), os.urandom(900 * 1200 * 3))
    made = sticker(inspect(_encode(noise, "PNG")))
    assert (made.mime, made.width, made.height) == ("image/webp", 384, 512)
    assert len(made.data) <= 512 * 1024


def test_the_original_of_a_jpeg_is_a_png_of_the_same_pixels() -> None:
    """Telegram keeps a photo as a JPEG: "Original" sends it losslessly as a PNG."""
    picture = inspect(jpeg(300, 200, (20, 120, 220)))
    original = as_png(picture)
    assert (original.mime, original.width, original.height) == ("image/png", 300, 200)
    decoded = Image.open(io.BytesIO(original.data))
    assert decoded.format == "PNG"
    assert decoded.getpixel((150, 100)) == Image.open(io.BytesIO(picture.data)).getpixel((150, 100))
    already = inspect(png(10, 10))
    assert as_png(already) is already


def test_a_canvas_past_its_pixel_bound_is_scaled_down_whole() -> None:
    """Zooming a 4K result out twice would make 64 Mpx: the canvas and the picture on it shrink
    together, the picture still centred."""
    picture = inspect(png(4096, 4096, (40, 90, 160)))
    canvas = on_canvas(picture, (2.0, 2.0), (0.5, 0.5))
    assert canvas.width * canvas.height <= MAX_CANVAS_PIXELS
    assert canvas.width == canvas.height == 4000
    image = Image.open(io.BytesIO(canvas.data)).convert("RGB")
    assert image.getpixel((2000, 2000)) == (40, 90, 160)
    assert image.getpixel((10, 10)) == image.getpixel((3990, 3990)) == CANVAS_FILL


_PEAK = """
import resource, sys
from pathlib import Path
from bot.imaging import fit_for_model, inspect
picture = inspect(Path(sys.argv[1]).read_bytes())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fitted = fit_for_model(picture, frozenset({"image/png", "image/jpeg", "image/webp"}))
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grew // 1024, fitted.width, fitted.height)
"""


def test_a_huge_palette_image_is_converted_reduced(tmp_path: Path) -> None:
    """A 6300x6300 GIF is 30 KB and under MAX_PIXELS, yet converting it whole took +228 MB. Its
    peak is measured in a process of its own (ru_maxrss is the process's high-water mark)."""
    gif = Image.new("P", (6300, 6300), 0)
    gif.putpalette([i % 256 for i in range(768)])
    (tmp_path / "huge.gif").write_bytes(_encode(gif, "GIF"))
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(tmp_path / "huge.gif")],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    grew_mib, width, height = map(int, done.stdout.split())
    # At most the palette image (40 MB) and its reduced copy (40 MB); whole, it took ~150 MB.
    assert grew_mib < 100, done.stdout
    assert (width, height) == (3150, 3150)


def test_a_large_photo_is_converted_reduced_and_upright() -> None:
    photo = Image.new("RGB", (6000, 3000), (200, 30, 30))
    photo.paste((30, 30, 200), (0, 0, 3000, 3000))  # blue on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90° clockwise: the blue half on top
    out = io.BytesIO()
    photo.save(out, "WEBP", exif=exif, quality=50)
    fitted = fit_for_model(inspect(out.getvalue()), frozenset({"image/png"}))
    assert (fitted.width, fitted.height) == (1500, 3000)
    with Image.open(io.BytesIO(fitted.data)) as result:
        blue = result.getchannel("B")
        top, bottom = blue.getpixel((750, 10)), blue.getpixel((750, 2990))
    assert isinstance(top, int) and isinstance(bottom, int)
    assert top > 150 > bottom
