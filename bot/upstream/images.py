"""Eden's images protocol (`POST /images/generations` and `/images/edits`): bodies and replies."""

from __future__ import annotations

from typing import Any, Final

from bot.domain import ImageRequest
from bot.upstream.errors import MalformedResponse
from bot.upstream.payload import (
    Reply,
    flattened,
    image_config,
    read_cost,
    read_finish_reason,
    read_usage,
    to_data_url,
)

NAME: Final = "images"

# The OpenAI-style `size` values that gateways serving Gemini on /images/* translate into a
# ratio. LiteLLM's Gemini image transformation (BerriAI/litellm,
# litellm/llms/gemini/image_generation/transformation.py, `_map_size_to_aspect_ratio`) knows
# exactly these five and draws 1:1 for any other `size`, Google's own pixel sizes included. So
# `size` is sent only where one of them means the ratio asked for.
OPENAI_SIZES: dict[str, str] = {
    "1:1": "1024x1024",
    "16:9": "1792x1024",
    "9:16": "1024x1792",
    "4:3": "1280x896",
    "3:4": "896x1280",
}


def path(request: ImageRequest) -> str:
    return "/images/edits" if request.images or request.history else "/images/generations"


def body(request: ImageRequest) -> dict[str, Any]:
    request = flattened(request)  # no turns here: the last picture and earlier words
    payload: dict[str, Any] = {
        "model": request.model,
        "prompt": request.prompt,
        "n": 1,
        "response_format": "b64_json",
        **shape_fields(request),
    }
    if request.images:
        payload["images"] = [{"image_url": to_data_url(p)} for p in request.images]
    return payload


def shape_fields(request: ImageRequest) -> dict[str, Any]:
    """The ratio and tier in every form a gateway is known to read.

    Eden documents only `size` on /images/* ("depends on the model") and forwards unknown
    fields to the provider. Gateways in front of Gemini read a flat `aspect_ratio` and
    `image_size` (LiteLLM's Gemini image handler), Gemini's own `image_config` (the chat
    protocol's form), or `size` through the five-value table above. The camelCase
    `imageConfig` some of them also read is left out: passed on beside `image_config`, it would
    name one protobuf field twice, which protobuf's JSON parser refuses."""
    config = image_config(request)
    fields: dict[str, Any] = {**config, "image_config": config}
    if size := OPENAI_SIZES.get(request.aspect_ratio):
        fields["size"] = size
    return fields


def parse(reply: Any) -> Reply:
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, list):
        raise MalformedResponse("images reply has no data list")
    first = data[0] if data and isinstance(data[0], dict) else {}
    image = first.get("b64_json") or first.get("url")
    revised = first.get("revised_prompt")
    # A gateway that got no picture says why in the item or beside the data, and may pass the
    # model's words on as `text`, or a refusal as OpenAI's `refusal`.
    words = first.get("text") or reply.get("text")
    refusal = first.get("refusal") or reply.get("refusal")
    refusal = refusal if isinstance(refusal, str) and refusal.strip() else None
    said = [t.strip() for t in (words, refusal) if isinstance(t, str) and t.strip()]
    image = image if isinstance(image, str) and image else None
    if image is not None and isinstance(revised, str):
        said.append(revised)
    return Reply(
        image=image,
        text="\n".join(said) or None,
        finish_reason=read_finish_reason(first, reply),
        cost_usd=read_cost(reply),
        usage=read_usage(reply),
        refusal=refusal,
    )
