"""A fake Eden AI server on 127.0.0.1 speaking both protocols, scriptable reply by reply."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

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
        "model": "google/gemini-3.1-flash-image-preview",
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


class FakeEden:
    def __init__(self) -> None:
        self.calls: list[EdenCall] = []
        self.image = png(64, 36)
        self.cost = 0.067
        self.models = ["google/gemini-3.1-flash-image-preview", "google/gemini-2.5-flash-image"]
        # Where the model list is served: Eden's /images/models, or only the older /models.
        self.models_path = "/images/models"
        # When set, /chat/completions answers as Eden does for models moved to /images.
        self.chat_unsupported = False
        self._script: deque[Responder] = deque()
        self._hosted: dict[str, bytes] = {}
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

    async def wait_for_calls(self, count: int, timeout: float = 15.0) -> list[EdenCall]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= count)
        return self.calls[:count]

    # ---- the API -----------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        body: Any = await request.json() if request.can_read_body else None
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
        if self._script:
            return await self._script.popleft()(request, body)
        return await self._default(request, body)

    async def _default(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
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
            return web.json_response(chat_reply(data_url(self.image), cost=self.cost))
        if path == self.models_path:
            return web.json_response({"data": [{"id": m, "object": "model"} for m in self.models]})
        if path in ("/images/generations", "/images/edits"):
            return web.json_response(images_reply(self.image, cost=self.cost))
        return web.json_response({"detail": "Not Found"}, status=404)

    async def _hosted_file(self, request: web.Request) -> web.StreamResponse:
        self.hosted_requests.append(dict(request.headers))
        data = self._hosted.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)
