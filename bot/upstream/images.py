"""Eden's images protocol (`POST /images/generations` and `/images/edits`): bodies and replies."""

from __future__ import annotations

from typing import Any, Final

from bot.catalog import capabilities_for, output_pixels
from bot.domain import ImageRequest
from bot.upstream.errors import MalformedResponse
from bot.upstream.payload import Reply, image_config, read_cost, read_usage, to_data_url

NAME: Final = "images"


def path(request: ImageRequest) -> str:
    return "/images/edits" if request.images else "/images/generations"


def body(request: ImageRequest) -> dict[str, Any]:
    caps = capabilities_for(request.model)
    width, height = output_pixels(caps, request.aspect_ratio, request.image_size)
    payload: dict[str, Any] = {
        "model": request.model,
        "prompt": request.prompt,
        "n": 1,
        "size": f"{width}x{height}",
        "response_format": "b64_json",
        # Eden documents only `size` here but forwards unknown fields to the provider: this is
        # how Gemini gets the ratio and size tier it understands.
        "image_config": image_config(request),
    }
    if request.images:
        payload["images"] = [{"image_url": to_data_url(p)} for p in request.images]
    return payload


def parse(reply: Any) -> Reply:
    data = reply.get("data") if isinstance(reply, dict) else None
    if not isinstance(data, list):
        raise MalformedResponse("images reply has no data list")
    first = data[0] if data and isinstance(data[0], dict) else {}
    image = first.get("b64_json") or first.get("url")
    revised = first.get("revised_prompt")
    return Reply(
        image=image if isinstance(image, str) and image else None,
        text=revised if isinstance(revised, str) else None,
        cost_usd=read_cost(reply),
        usage=read_usage(reply),
    )
