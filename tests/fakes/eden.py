"""A fake Eden AI server on 127.0.0.1 speaking both protocols, scriptable reply by reply.

Unless a test fixes `image`, it draws what it understood, as Gemini behind a gateway would: on
/chat/completions it reads `image_config`; on /images/* it behaves like the common OpenAI-style
gateway (LiteLLM's): it ignores `image_config`, honours a flat `aspect_ratio` and `image_size`,
and otherwise maps `size` through the five-entry table, drawing 1:1 for anything else."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.lineup.catalog import capabilities_for, output_pixels
from tests.fakes.images import png
from tests.fakes.server import serve

API_KEY = "eden-test-key-0123456789"

Responder = Callable[[web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


@dataclass
class EdenCall:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float = 0.0  # loop time of arrival


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def chat_reply(content: Any, **extra: Any) -> dict[str, Any]:
    """A chat-completions answer whose message content is `content`."""
    message = {"role": "assistant", "content": content, **extra.pop("message_extra", {})}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "google/gemini-nano-banana-2.1",
        "choices": [
            {"index": 0, "message": message, "finish_reason": extra.pop("finish_reason", "stop")}
        ],
        **extra,
    }


def images_reply(
    image: bytes | None = None, url: str | None = None, **extra: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {"revised_prompt": None}
    if image is not None:
        item["b64_json"] = base64.b64encode(image).decode()
    if url is not None:
        item["url"] = url
    return {"created": 1, "data": [item], "output_format": "png", "provider": "google", **extra}


def no_picture_reply(
    protocol: str,
    finish_reason: str | None = None,
    *,
    text: str | None = None,
    refusal: str | None = None,
    native: str | None = None,
) -> dict[str, Any]:
    """An answer without a picture, as a gateway in front of Gemini gives one on `protocol`
    ("chat" or "images"): a finish reason (Gemini's own as `native_finish_reason`, beside an
    OpenAI-style one), the model's words, a refusal; nothing at all if none is given."""
    reasons = {
        k: v for k, v in (("finish_reason", finish_reason), ("native_finish_reason", native)) if v
    }
    if protocol == "chat":
        extra = {"refusal": refusal} if refusal else {}
        reply = chat_reply(text, message_extra=extra, cost=0.02)
        reply["choices"][0].update({"finish_reason": None, **reasons})
        return reply
    item: dict[str, Any] = {**reasons}
    if text:
        item["text"] = text
    if refusal:
        item["refusal"] = refusal
    return {"created": 1, "data": [item] if item else [], "provider": "google", "cost": 0.02}


# What a LiteLLM-style gateway makes of `size` on /images/*; anything else is drawn square.
GATEWAY_SIZES = {
    "1024x1024": "1:1",
    "1792x1024": "16:9",
    "1024x1792": "9:16",
    "1280x896": "4:3",
    "896x1280": "3:4",
}


class FakeEden:
    def __init__(self) -> None:
        # Generations only; reads of the model list are in `listings`.
        self.calls: list[EdenCall] = []
        self.listings: list[str] = []
        # A fixed image for every answer; None: draw the shape the request asked for.
        self.image: bytes | None = None
        self.last_image = b""
        self.cost = 0.067
        # What Eden lists (a test may set its own before the bot starts).
        self.models = [
            "google/gemini-nano-banana-2.1",
            "google/gemini-3.1-flash-image",
            "google/gemini-2.5-flash-image",
        ]
        # Where the model list is served: Eden's /images/models, or only the older /models.
        self.models_path = "/images/models"
        # Text models, listed on /models and answered on /chat/completions with `words`.
        self.text_models = ["google/gemini-2.5-flash"]
        self.words = "A red fox in fresh snow at dawn, soft golden light, watercolour"
        self.text_cost = 0.0004
        # When set, /chat/completions answers as Eden does for models moved to /images.
        self.chat_unsupported = False
        # When set, /chat/completions refuses a message list with the model's pictures in it
        # (whether Eden passes them on to Gemini is not documented).
        self.refuse_assistant_images = False
        # What the model's message carries as `reasoning_details` (thought signatures), if set.
        self.reasoning_details: list[dict[str, Any]] | None = None
        self._script: deque[Responder] = deque()
        self._hosted: dict[str, bytes] = {}
        self._streams: dict[str, tuple[bytes, float, int]] = {}
        self._redirects: dict[str, str] = {}
        self.streamed = 0
        # Generations being answered now, and the most there ever were at once.
        self.running = 0
        self.peak = 0
        # Every answer not scripted otherwise takes this long.
        self.delay = 0.0
        self.hosted_requests: list[dict[str, str]] = []
        self._names = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.root = ""
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/v3/{path:.*}", self._api)
        app.router.add_get("/hosted/{name}", self._hosted_file)
        self._runner, self.root = await serve(app)
        self.base_url = f"{self.root}/v3"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    # ---- scripting ---------------------------------------------------------------------------
    def then(self, responder: Responder) -> None:
        self._script.append(responder)

    def then_json(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        async def respond(request: web.Request, _: dict[str, Any]) -> web.StreamResponse:
            return web.json_response(body, status=status, headers=headers)

        self.then(respond)

    def then_text(self, text: str, status: int = 200) -> None:
        async def respond(request: web.Request, _: dict[str, Any]) -> web.StreamResponse:
            return web.Response(text=text, status=status)

        self.then(respond)

    def then_hang(self, seconds: float) -> None:
        async def respond(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
            await asyncio.sleep(seconds)
            return await self._default(request, body)

        self.then(respond)

    def then_drop(self) -> None:
        """Close the connection without answering."""

        async def respond(request: web.Request, _: dict[str, Any]) -> web.StreamResponse:
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(0.1)
            return web.Response(status=500)

        self.then(respond)

    def host(self, data: bytes) -> str:
        name = f"img-{next(self._names)}.png"
        self._hosted[name] = data
        return f"{self.root}/hosted/{name}"

    def host_redirect(self, to: str) -> str:
        """A hosted address that redirects (302) to `to`."""
        name = f"moved-{next(self._names)}"
        self._redirects[name] = to
        return f"{self.root}/hosted/{name}"

    def host_stream(self, chunk: bytes, every: float, count: int) -> str:
        """A hosted file sent as `count` pieces of `chunk`, one every `every` seconds, with no
        length given: a huge or a trickling download. `streamed` counts the bytes it sent."""
        name = f"stream-{next(self._names)}"
        self._streams[name] = (chunk, every, count)
        return f"{self.root}/hosted/{name}"

    async def wait_for_calls(self, count: int, timeout: float = 30.0) -> list[EdenCall]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= count)
        return self.calls[:count]

    # ---- the API -----------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        body: Any = await request.json() if request.can_read_body else None
        if request.method == "GET":
            self.listings.append("/" + request.match_info["path"])
            return await self._listing(request)
        async with self._changed:
            self.calls.append(
                EdenCall(
                    request.method,
                    "/" + request.match_info["path"],
                    dict(request.headers),
                    body,
                    asyncio.get_running_loop().time(),
                )
            )
            self._changed.notify_all()
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response(
                {"detail": "Invalid API key", "error_code": "UNAUTHORIZED"}, status=401
            )
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if self._script:
                return await self._script.popleft()(request, body)
            return await self._default(request, body)
        finally:
            self.running -= 1

    async def _listing(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response(
                {"detail": "Invalid API key", "error_code": "UNAUTHORIZED"}, status=401
            )
        path = "/" + request.match_info["path"]
        listed = self.models if path == self.models_path else []
        if path == "/models":
            listed = listed + self.text_models
        if path in (self.models_path, "/models"):
            return web.json_response({"data": [{"id": m, "object": "model"} for m in listed]})
        return web.json_response({"detail": "Not Found"}, status=404)

    def picture_for(self, path: str, body: dict[str, Any]) -> bytes:
        """The fixed image, or one of the shape this request would get from Gemini."""
        if self.image is not None:
            image = self.image
        else:
            ratio, size = _understood(path, body)
            width, height = output_pixels(capabilities_for(body.get("model", "")), ratio, size)
            image = _drawn(width, height)
        self.last_image = image
        return image

    async def _default(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        if self.delay:
            await asyncio.sleep(self.delay)
        path = "/" + request.match_info["path"]
        if path == "/chat/completions" and body.get("model") in self.text_models:
            return web.json_response(chat_reply(self.words, cost=self.text_cost))
        model = str(body.get("model", ""))
        if model.lower() not in {m.lower() for m in self.models}:
            return web.json_response({"detail": f"Model {model} not found"}, status=404)
        if path == "/chat/completions":
            if self.chat_unsupported:
                return web.json_response(
                    {
                        "error": {
                            "message": "Model(s) do not support /chat/completions",
                            "type": "invalid_request_error",
                            "code": "model_not_supported",
                        }
                    },
                    status=400,
                )
            if refused := _tier_refused(path, body):
                return refused
            if self.refuse_assistant_images and _assistant_images(body):
                return web.json_response(
                    {
                        "error": {
                            "message": "Image content is only supported in user messages",
                            "type": "invalid_request_error",
                        }
                    },
                    status=400,
                )
            image = self.picture_for(path, body)
            extra = {"reasoning_details": self.reasoning_details} if self.reasoning_details else {}
            return web.json_response(
                chat_reply(data_url(image), cost=self.cost, message_extra=extra)
            )
        if path in ("/images/generations", "/images/edits"):
            if refused := _tier_refused(path, body):
                return refused
            return web.json_response(images_reply(self.picture_for(path, body), cost=self.cost))
        return web.json_response({"detail": "Not Found"}, status=404)

    async def _hosted_file(self, request: web.Request) -> web.StreamResponse:
        self.hosted_requests.append(dict(request.headers))
        if stream := self._streams.get(request.match_info["name"]):
            return await self._stream(request, *stream)
        if moved := self._redirects.get(request.match_info["name"]):
            raise web.HTTPFound(moved)
        data = self._hosted.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    async def _stream(
        self, request: web.Request, chunk: bytes, every: float, count: int
    ) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(count):
                await response.write(chunk)
                self.streamed += len(chunk)
                await asyncio.sleep(every)
        except ConnectionError:
            return response  # the reader gave up, as it should
        await response.write_eof()
        return response


def _assistant_images(body: dict[str, Any]) -> bool:
    return any(
        message.get("role") == "assistant"
        and isinstance(message.get("content"), list)
        and any(part.get("type") == "image_url" for part in message["content"])
        for message in body.get("messages") or []
    )


def _understood(path: str, body: dict[str, Any]) -> tuple[str, str]:
    """The ratio and tier the model gets from a request body, as the docstring above says."""
    if path == "/chat/completions":
        config = body.get("image_config") or {}
        return config.get("aspect_ratio", "1:1"), config.get("image_size", "1K")
    ratio = body.get("aspect_ratio") or GATEWAY_SIZES.get(body.get("size", ""), "1:1")
    return ratio, body.get("image_size", "1K")


def _tier_refused(path: str, body: dict[str, Any]) -> web.Response | None:
    """HTTP 400 for an `image_size` the model lacks, as Gemini answers Nano Banana 2.1's 512."""
    model = str(body.get("model", ""))
    configs = [body.get("image_config") or {}, *([body] if path.startswith("/images/") else [])]
    sizes = {c["image_size"] for c in configs if isinstance(c, dict) and "image_size" in c}
    lacking = sorted(s for s in sizes if s not in capabilities_for(model).image_sizes)
    if not lacking:
        return None
    message = f"image_size {lacking[0]} is not supported by {model}"
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "code": 400}},
        status=400,
    )


_DRAWN: dict[tuple[int, int], bytes] = {}


def _drawn(width: int, height: int) -> bytes:
    """A flat PNG of that size (kept: the same sizes come back again and again)."""
    if (width, height) not in _DRAWN:
        _DRAWN[(width, height)] = png(width, height, (40, 90, 160))
    return _DRAWN[(width, height)]
