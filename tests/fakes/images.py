"""Real image bytes for tests, made with Pillow."""

from __future__ import annotations

import io

from PIL import Image


def png(width: int, height: int, color: tuple[int, int, int] = (200, 30, 90)) -> bytes:
    return _encode(width, height, color, "PNG")


def jpeg(width: int, height: int, color: tuple[int, int, int] = (20, 120, 220)) -> bytes:
    return _encode(width, height, color, "JPEG")


def _encode(width: int, height: int, color: tuple[int, int, int], fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, fmt)
    return out.getvalue()
