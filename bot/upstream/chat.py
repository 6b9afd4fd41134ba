"""Eden's chat-completions protocol (`POST /chat/completions`): request bodies and image replies,
and the text model's questions and answers."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from bot.domain import ImageRequest, Picture, TextRequest
from bot.upstream.errors import MalformedResponse
from bot.upstream.payload import (
    Reply,
    find_data_url,
    image_config,
    read_cost,
    read_finish_reason,
    read_usage,
    to_data_url,
)

NAME: Final = "chat"

# Bounded repeats: with `*`, each of many unclosed `![` in a long answer would scan to its end
# (quadratic time in the model's text).
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]{0,1000}\]\((https?://[^)\s]{1,4096})\)")
_MARKDOWN_OPENING = re.compile(r"!\[[^\]]{0,1000}\]\($")
_BARE_URL = re.compile(r"https?://\S+")


def path(request: ImageRequest) -> str:
    return "/chat/completions"


def body(request: ImageRequest | TextRequest) -> dict[str, Any]:
    """An OpenAI-style message list: each earlier turn of a conversation as the user's words and
    images and the model's picture, then the request itself; an image request adds the shape (a
    text model has none)."""
    messages: list[dict[str, Any]] = []
    history = request.history if isinstance(request, ImageRequest) else ()
    for turn in history:
        messages.append({"role": "user", "content": _user_content(turn.prompt, turn.images)})
        assistant: dict[str, Any] = {"role": "assistant", "content": [_image_part(turn.result)]}
        if turn.reasoning is not None:
            assistant["reasoning_details"] = json.loads(turn.reasoning)
        messages.append(assistant)
    messages.append({"role": "user", "content": _user_content(request.prompt, request.images)})
    shape = shape_fields(request) if isinstance(request, ImageRequest) else {}
    return {"model": request.model, "messages": messages, **shape}


def _user_content(prompt: str, images: tuple[Picture, ...]) -> str | list[dict[str, Any]]:
    if not images:
        return prompt
    return [{"type": "text", "text": prompt}] + [_image_part(p) for p in images]


def _image_part(picture: Picture) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": to_data_url(picture)}}


def shape_fields(request: ImageRequest) -> dict[str, Any]:
    """The ratio and tier as the seed protocol sends them: Gemini's own `image_config`."""
    return {"image_config": image_config(request)}


def parse(reply: Any) -> Reply:
    """Find the image wherever an OpenAI-style gateway put it, else the model's words."""
    try:
        choice = reply["choices"][0]
        message = choice["message"] or {}
    except (KeyError, IndexError, TypeError) as exc:
        raise MalformedResponse("chat reply has no choices[0].message") from exc
    if not isinstance(message, dict):
        raise MalformedResponse("chat reply message is not an object")

    images: list[str] = [url for item in message.get("images") or [] if (url := _part_url(item))]
    texts: list[str] = []
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            if url := _part_url(part):
                images.append(url)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    elif isinstance(content, str):
        url, rest = _image_in_text(content)
        if url:
            images.append(url)
        texts.append(rest)
    refusal = message.get("refusal") if isinstance(message.get("refusal"), str) else None
    if refusal:
        texts.append(refusal)

    text = "\n".join(t.strip() for t in texts if t and t.strip()) or None
    reasoning = message.get("reasoning_details")
    return Reply(
        image=images[0] if images else None,
        text=text,
        finish_reason=read_finish_reason(choice, message),
        cost_usd=read_cost(reply),
        usage=read_usage(reply),
        refusal=refusal,
        reasoning=json.dumps(reasoning) if isinstance(reasoning, list) and reasoning else None,
    )


def _part_url(part: Any) -> str | None:
    """The URL of an `{"type": "image_url", "image_url": {"url": ...}}` part (or a bare string)."""
    if not isinstance(part, dict):
        return None
    image_url = part.get("image_url")
    if isinstance(image_url, dict):
        image_url = image_url.get("url")
    return image_url if isinstance(image_url, str) and image_url else None


def _image_in_text(content: str) -> tuple[str | None, str]:
    """(image URL, remaining text) for a string holding a data URL, Markdown image or bare URL."""
    if span := find_data_url(content):
        start, end = span
        before, after = content[:start], content[end:]
        # Drop the Markdown wrapper `![alt](` ... `)` around an inline data URL.
        if before.endswith("]("):
            # Only the tail can hold the wrapper; searching all of a long text would be slow.
            before = before[:-1100] + _MARKDOWN_OPENING.sub("", before[-1100:])
        after = after.removeprefix(")")
        return content[start:end], before + after
    if match := _MARKDOWN_IMAGE.search(content):
        return match.group(1), content[: match.start()] + content[match.end() :]
    stripped = content.strip()
    if _BARE_URL.fullmatch(stripped):
        return stripped, ""
    return None, content
