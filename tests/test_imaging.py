"""Reading image bytes and fitting input images to what a model accepts."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from bot.imaging import NotAnImage, fit_for_model, inspect
from tests.fakes.images import jpeg, png

COMMON = frozenset({"image/png", "image/jpeg", "image/webp"})


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
