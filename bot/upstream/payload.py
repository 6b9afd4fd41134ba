"""Pieces both Eden protocols share: data URLs, the parsed reply, and reading error bodies."""

from __future__ import annotations

import binascii
import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import pybase64

from bot.domain import ImageRequest, Picture
from bot.lineup.catalog import capabilities_for
from bot.upstream.errors import MalformedResponse

_DATA_URL = re.compile(r"data:image/[\w.+-]+;base64,")
_DATA_URL_BYTES = re.compile(_DATA_URL.pattern.encode())
_B64_JSON = re.compile(rb'"b64_json"\s*:\s*"')

# Stands in a parsed reply for the base64 lifted out of its raw body (see lift_image); it is
# not base64, so it can never be mistaken for an image of its own.
LIFTED = "*"


class WireProtocol(Protocol):
    """One of Eden's two ways to ask for an image; `chat` and `images` are modules that fit it."""

    NAME: str

    def path(self, request: ImageRequest) -> str: ...
    def body(self, request: ImageRequest) -> dict[str, Any]: ...
    def shape_fields(self, request: ImageRequest) -> dict[str, Any]: ...
    def parse(self, reply: Any) -> Reply: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """One upstream answer: its image (a data URL or an http(s) URL) and what came with it."""

    image: str | None
    text: str | None = None
    finish_reason: str | None = None
    cost_usd: float | None = None
    # The model's declining words (OpenAI's `message.refusal`), also part of `text`.
    refusal: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    # The model's `reasoning_details` (thought signatures), as JSON: sent back with its picture
    # when a conversation continues.
    reasoning: str | None = None


def image_config(request: ImageRequest) -> dict[str, str]:
    """Gemini's own `image_config`: the aspect ratio, and the size tier where the model has any."""
    config = {"aspect_ratio": request.aspect_ratio}
    if capabilities_for(request.model).sends_image_size:
        config["image_size"] = request.image_size
    return config


def flattened(request: ImageRequest) -> ImageRequest:
    """`request` without its history: the last picture first among the images, and the earlier
    instructions in words. The images protocol has no turns, and a gateway may refuse assistant
    pictures in a message list."""
    if not request.history:
        return request
    earlier = "\n".join(f"{n}. {turn.prompt}" for n, turn in enumerate(request.history, 1))
    prompt = (
        "This continues a conversation. Earlier instructions, oldest first:\n"
        f"{earlier}\n"
        "The first image is the latest result; keep what those instructions established.\n"
        f"Now: {request.prompt}"
    )
    images = (request.history[-1].result, *request.images)
    return dataclasses.replace(request, prompt=prompt, images=images, history=())


def to_data_url(picture: Picture) -> str:
    return f"data:{picture.mime};base64,{pybase64.b64encode(picture.data).decode('ascii')}"


def decode_data_url(url: str, lifted: bytes | None = None) -> bytes:
    """The bytes of a `data:image/...;base64,` URL, or of bare base64 text; `lifted` is the
    image that lift_image took out of the reply, where `url` holds LIFTED instead."""
    match = _DATA_URL.match(url)
    encoded = url[match.end() :] if match else url
    if encoded == LIFTED and lifted is not None:
        return lifted
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


# Where find_data_url ends a data URL, as JSON writes those characters inside a string: `)`, a
# space and `'` as they are; a tab, a newline and `"` as the escapes `\\t`, `\\n` and `\\"`.
_PLAIN_ENDS: tuple[bytes, ...] = (b'"', b")", b" ", b"'")  # with the string's own closing quote
_ESCAPED_ENDS = b'tn"'


def lift_image(body: bytes) -> tuple[bytes, bytes | None]:
    """`body` with the base64 of its first inline image replaced by LIFTED, and that image.

    Parsing megabytes of base64 into a Python string only to decode it again was a third of
    the bot's CPU in a burst of replies; lifted, it is decoded straight from the bytes received.
    The base64 ends where find_data_url would end it. Anything but clean base64 (a JSON escape,
    line breaks) is left in the body for the full parse, which reads it right."""
    marker = body.find(b";base64,")
    prefix = body.rfind(b"data:image/", 0, marker) if marker >= 0 else -1
    if prefix >= 0 and (url := _DATA_URL_BYTES.match(body, prefix)):
        start, plain, escaped = url.end(), _PLAIN_ENDS, _ESCAPED_ENDS
    elif (key := body.find(b'"b64_json"')) >= 0 and (value := _B64_JSON.match(body, key)):
        start, plain, escaped = value.end(), (b'"',), b""  # bare base64 fills its whole string
    else:
        return body, None
    quote = body.find(b'"', start)
    if quote < 0:
        return body, None
    # Usually the base64 fills the rest of its string, and one strict pass both checks and
    # decodes it; the searches for where else it ends run only when that fails.
    if (image := _strict_b64decode(memoryview(body)[start:quote])) is not None:
        end = quote
    else:
        end = min(i for c in plain if (i := body.find(c, start, quote + 1)) >= 0)
        if (escape := body.find(b"\\", start, end)) >= 0:
            if body[escape + 1] not in escaped:
                return body, None
            end = escape
        if (image := _strict_b64decode(memoryview(body)[start:end])) is None:
            return body, None
    return body[:start] + LIFTED.encode() + body[end:], image


def _strict_b64decode(encoded: memoryview) -> bytes | None:
    try:
        return pybase64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None


def read_cost(body: dict[str, Any]) -> float | None:
    """The reported cost; a negative or non-finite one is no report (it would lower a user's
    spend)."""
    cost = body.get("cost")
    if not isinstance(cost, int | float) or isinstance(cost, bool):
        return None
    return float(cost) if math.isfinite(cost) and cost >= 0 else None


def read_finish_reason(*places: Any) -> str | None:
    """The first finish reason found in `places` (objects of the reply): Gemini's own as some
    gateways pass it on (`native_finish_reason`), else the OpenAI-style one."""
    for key in ("native_finish_reason", "finish_reason"):
        for place in places:
            if isinstance(place, dict) and isinstance(place.get(key), str) and place[key]:
                return str(place[key])
    return None


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
