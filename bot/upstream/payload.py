"""Pieces both Eden protocols share: data URLs, the parsed reply, and reading error bodies."""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import pybase64

from bot.catalog import capabilities_for
from bot.domain import ImageRequest, Picture
from bot.upstream.errors import MalformedResponse

_DATA_URL = re.compile(r"data:image/[\w.+-]+;base64,")


class WireProtocol(Protocol):
    """One of Eden's two ways to ask for an image; `chat` and `images` are modules that fit it."""

    NAME: str

    def path(self, request: ImageRequest) -> str: ...
    def body(self, request: ImageRequest) -> dict[str, Any]: ...
    def parse(self, reply: Any) -> Reply: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """One upstream answer: its image (a data URL or an http(s) URL) and what came with it."""

    image: str | None
    text: str | None = None
    finish_reason: str | None = None
    cost_usd: float | None = None
    usage: dict[str, int] = field(default_factory=dict)


def image_config(request: ImageRequest) -> dict[str, str]:
    """Gemini's own `image_config`: the aspect ratio, and the size tier where the model has any."""
    config = {"aspect_ratio": request.aspect_ratio}
    if capabilities_for(request.model).sends_image_size:
        config["image_size"] = request.image_size
    return config


def to_data_url(picture: Picture) -> str:
    return f"data:{picture.mime};base64,{pybase64.b64encode(picture.data).decode('ascii')}"


def decode_data_url(url: str) -> bytes:
    """The bytes of a `data:image/...;base64,` URL, or of bare base64 text."""
    match = _DATA_URL.match(url)
    encoded = url[match.end() :] if match else url
    try:
        # Strict first: SIMD-fast for clean base64, which is what gateways send (a 4K image is
        # ~50 MB of it); the lenient pass copes with line breaks.
        return pybase64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return pybase64.b64decode(encoded)
    except (binascii.Error, ValueError) as exc:
        raise MalformedResponse(f"image is not valid base64: {exc}") from exc


# What ends a data URL inside prose or Markdown. Base64 wrapped over several lines is only
# understood when it is the whole content.
_DATA_URL_ENDS = (")", " ", "\t", "\n", '"', "'")


def find_data_url(text: str) -> tuple[int, int] | None:
    """Start and end of the first data URL inside `text` (e.g. in Markdown), or None."""
    start = text.find("data:image/")
    if start < 0 or not _DATA_URL.match(text, start):
        return None
    # str.find runs at memory speed; a regex over megabytes of base64 does not.
    ends = [i for i in (text.find(end, start) for end in _DATA_URL_ENDS) if i >= 0]
    return start, min(ends, default=len(text))


def read_cost(body: dict[str, Any]) -> float | None:
    cost = body.get("cost")
    return float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None


def read_usage(body: dict[str, Any]) -> dict[str, int]:
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return {}
    return {k: v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}


def error_detail(body: Any) -> str:
    """The human-readable part of any of the error shapes Eden's pages document."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or json.dumps(error))
        if isinstance(error, str):
            return error
        detail = body.get("detail")
        if isinstance(detail, list):
            return "; ".join(
                str(item.get("msg", item)) if isinstance(item, dict) else str(item)
                for item in detail
            )
        if detail is not None:
            return str(detail)
        if "message" in body:
            return str(body["message"])
    return json.dumps(body)[:500] if not isinstance(body, str) else body[:500]
