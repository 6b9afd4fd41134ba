"""The Eden AI client: sends an ImageRequest over either protocol and returns the decoded image."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import orjson

from bot import imaging, transport
from bot.domain import ImageRequest, ImageResult, TextRequest, TextResult
from bot.upstream import chat, images
from bot.upstream import errors as e
from bot.upstream.budget import ByteBudget
from bot.upstream.hosted import HostedImages
from bot.upstream.payload import (
    WireProtocol,
    decode_data_url,
    error_detail,
    flattened,
    lift_image,
)
from bot.upstream.reading import mapped_errors, read_body

log = logging.getLogger(__name__)

ApiMode = Literal["auto", "chat", "images"]

_BY_ERROR_CODE: dict[str, type[e.StatusError]] = {
    "UNAUTHORIZED": e.AuthenticationFailed,
    "INSUFFICIENT_CREDIT": e.InsufficientCredits,
    "RATE_LIMITED": e.RateLimited,
}
_BY_STATUS: dict[int, type[e.StatusError]] = {
    401: e.AuthenticationFailed,
    403: e.AuthenticationFailed,
    402: e.InsufficientCredits,
    404: e.ModelNotFound,
    429: e.RateLimited,
}


# How Eden and the gateways behind it word a 400 for a model they do not serve, e.g. Eden's
# "google/gemini-3.1-flash-image-preview isn't a registered model".
_UNKNOWN_MODEL = re.compile(
    r"(isn't|is not|not) a registered model|model[^.]{0,80}(not found|does not exist|unknown)"
    r"|unknown model|invalid model",
    re.IGNORECASE,
)

# What a reply of unknown length (chunked) counts against the reading budget: a 2K image's.
UNKNOWN_REPLY_BYTES = 16 * 1024 * 1024
# The largest reply read: a 4K PNG is up to ~40 MB, ~54 MB as base64 in JSON.
MAX_REPLY_BYTES = 96 * 1024 * 1024
# The largest image downloaded from a link (raw bytes, not base64).
MAX_HOSTED_BYTES = 64 * 1024 * 1024
# The most of an error answer read: its detail is a sentence, and a proxy's page a few KB.
MAX_ERROR_BYTES = 64 * 1024


class EdenClient:
    """One client per process: it reuses its HTTP connections and remembers which protocol works."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        mode: ApiMode = "auto",
        timeout: float = 180.0,
        timeout_4k: float | None = None,
        max_connections: int = 100,
        reading_bytes: int = 32 * 1024 * 1024,
        max_reply_bytes: int = MAX_REPLY_BYTES,
        max_hosted_bytes: int = MAX_HOSTED_BYTES,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._mode = mode
        self._protocol: WireProtocol = images if mode == "images" else chat
        self._timeouts = {"4K": timeout_4k or timeout}
        self._timeout = timeout
        self._reading = ByteBudget(reading_bytes)
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(max(timeout, timeout_4k or 0), connect=15.0),
            # One connection per generation in flight: a request must never queue for a socket.
            transport=transport.pooled(max_connections),
        )
        self._max_reply_bytes = max_reply_bytes
        self._hosted = HostedImages(self._base_url, self._http, max_bytes=max_hosted_bytes)
        # Models whose gateway refused a conversation's turns: they get the flattened form.
        self._flat_history: set[str] = set()

    def sends_history(self, model: str) -> bool:
        """Whether a conversation's turns still go to `model` as a message list."""
        return model not in self._flat_history

    @property
    def protocol(self) -> str:
        """The protocol the next request will use: `chat` or `images`."""
        return self._protocol.NAME

    async def aclose(self) -> None:
        await self._hosted.aclose()
        await self._http.aclose()

    def timeout_for(self, request: ImageRequest) -> float:
        """The longest wait for `request`'s answer, and again for reading it."""
        return self._timeouts.get(request.image_size, self._timeout)

    @contextlib.asynccontextmanager
    async def generate(self, request: ImageRequest) -> AsyncIterator[ImageResult]:
        """The image for `request`, or an UpstreamError saying why there is none."""
        async with contextlib.AsyncExitStack() as lease:
            protocol, response = await self._answer(request)
            lease.push_async_callback(response.aclose)
            # A reply carries megabytes of base64. Only so many bytes of them are read, decoded
            # and held by callers at once (until they leave `generate`), so a burst of finished
            # generations cannot fill the memory: the rest wait, unread, in socket buffers.
            # Small replies all pass at once; a 4K image's ~50 MB goes alone. The wait is not
            # the upstream's time: the image is made (and paid for) by then.
            size = int(response.headers.get("Content-Length") or UNKNOWN_REPLY_BYTES)
            await lease.enter_async_context(self._reading.hold(size))
            yield await self._read(protocol, request, response)

    async def _answer(self, request: ImageRequest) -> tuple[WireProtocol, httpx.Response]:
        """The upstream's answer to `request`, its body still unread, and the protocol used."""
        timeout = self.timeout_for(request)
        try:
            async with asyncio.timeout(timeout):
                try:
                    return self._protocol, await self._post(self._protocol, request)
                except e.ChatCompletionsUnsupported:
                    if self._mode != "auto":
                        raise
                    if self._protocol is chat:
                        log.warning(
                            "Eden refused /chat/completions for %s; using /images from now on",
                            request.model,
                        )
                        self._protocol = images
                    return images, await self._post(images, request)
        except TimeoutError as exc:
            raise e.UpstreamTimeout(f"no answer within {timeout:.0f} s") from exc

    async def _post(self, protocol: WireProtocol, request: ImageRequest) -> httpx.Response:
        if protocol is chat and request.history and self.sends_history(request.model):
            try:
                return await self._send(
                    self._request("POST", protocol.path(request), protocol.body(request))
                )
            except e.ChatCompletionsUnsupported:
                raise  # not about the turns: the model is not served here at all
            except e.BadRequest as exc:
                # Whether Eden passes assistant pictures on to Gemini is not documented: a
                # refusal is taken as "no", for this model, from now on.
                log.warning(
                    "Eden refused a conversation's turns for %s (%s); sending the last picture "
                    "and the earlier instructions in words from now on",
                    request.model,
                    exc,
                )
                self._flat_history.add(request.model)
        request = flattened(request)
        return await self._send(
            self._request("POST", protocol.path(request), protocol.body(request))
        )

    async def _read(
        self, protocol: WireProtocol, request: ImageRequest, response: httpx.Response
    ) -> ImageResult:
        """The image in an answer's body (inline, or downloaded from where it is hosted), all
        within one more timeout: a reply that trickles in must not hold a slot for ever."""
        path = response.request.url.path
        timeout = self.timeout_for(request)
        try:
            async with asyncio.timeout(timeout):
                body = await read_body(response, path, self._max_reply_bytes)
        except TimeoutError as exc:
            raise e.UpstreamTimeout(f"the answer took over {timeout:.0f} s to read") from exc
        document, lifted = lift_image(body)
        reply = protocol.parse(_parse_json(document, path))
        if reply.image is None:
            raise e.NoImageReturned(
                reply.text, reply.finish_reason, refusal=reply.refusal, cost_usd=reply.cost_usd
            )
        if reply.image.startswith(("http://", "https://")):
            # Hosted images expire: fetched at once.
            data = await self._hosted.fetch(reply.image, timeout)
        else:
            data = decode_data_url(reply.image, lifted)
        try:
            picture = imaging.inspect(data)
        except imaging.NotAnImage as exc:
            raise e.MalformedResponse(f"upstream image is not readable: {exc}") from exc
        return ImageResult(
            picture=picture,
            text=reply.text,
            cost_usd=reply.cost_usd,
            usage=reply.usage,
            protocol=protocol.NAME,
            shape_sent=protocol.shape_fields(request),
            reasoning=reply.reasoning,
        )

    async def complete(self, request: TextRequest) -> TextResult:
        """The text model's answer to `request` (always over /chat/completions), within one
        timeout for the answer and its reading."""
        path = "/chat/completions"
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._send(self._request("POST", path, chat.body(request)))
                try:
                    body = await read_body(response, path, self._max_reply_bytes)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise e.UpstreamTimeout(f"no answer within {self._timeout:.0f} s") from exc
        reply = chat.parse(_parse_json(body, path))
        if not reply.text:
            raise e.MalformedResponse(f"the text model sent no text ({reply.finish_reason})")
        return TextResult(reply.text, reply.cost_usd)

    async def list_text_models(self) -> list[str]:
        """The models Eden's `/models` lists: where its text models are."""
        return _names(await self._json("/models"))

    async def list_models(self) -> list[str]:
        """The image models Eden offers this account: `/images/models`, else `/models`."""
        try:
            reply = await self._json("/images/models")
        except e.ModelNotFound:  # a 404: this deployment has no images listing
            reply = await self._json("/models")
        return _names(reply)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Request:
        headers = dict(self._auth)
        stream = None
        if body is not None:
            stream, length = transport.body_stream(orjson.dumps(body))
            headers |= length | {"Content-Type": "application/json"}
        return self._http.build_request(
            method, self._base_url + path, content=stream, headers=headers
        )

    async def _json(self, path: str) -> Any:
        response = await self._send(self._request("GET", path))
        return _parse_json(await read_body(response, path, self._max_reply_bytes), path)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """The response with its headers read; the body is left to the caller (streaming)."""
        with mapped_errors(request.url.path):
            response = await self._http.send(request, stream=True)
        if response.is_error:
            try:
                body = await read_body(response, request.url.path, MAX_ERROR_BYTES)
            except e.ReplyTooLarge:
                body = b""  # the status says enough; the rest is left unread
            raise error_from_response(response, body)
        return response


def _parse_json(body: bytes, path: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise e.MalformedResponse(f"{path} answered with non-JSON") from exc


def error_from_response(response: httpx.Response, raw: bytes) -> e.StatusError:
    """The StatusError for an error answer, read from its status and any known shape of its
    body (`raw`)."""
    status = response.status_code
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = raw.decode(response.encoding or "utf-8", errors="replace")
    detail = error_detail(body)
    code = body.get("error_code") if isinstance(body, dict) else None
    cls = _BY_ERROR_CODE.get(str(code)) or _BY_STATUS.get(status)
    if cls is None and status in (400, 422) and _UNKNOWN_MODEL.search(detail):
        cls = e.ModelNotFound
    if cls is None:
        if status >= 500:
            cls = e.ProviderError
        elif status == 400 and "not support /chat/completions" in detail.lower():
            cls = e.ChatCompletionsUnsupported
        else:
            cls = e.BadRequest
    if cls is e.RateLimited:
        return e.RateLimited(detail, status=status, retry_after=_retry_after(response, body))
    return cls(detail, status=status)


def _retry_after(response: httpx.Response, body: Any) -> float | None:
    raw = body.get("retry_after") if isinstance(body, dict) else None
    raw = raw if raw is not None else response.headers.get("Retry-After")
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _names(reply: Any) -> list[str]:
    """The model names in a model list, in any of the shapes gateways send it."""
    items = reply.get("data", reply.get("models", [])) if isinstance(reply, dict) else reply
    if not isinstance(items, list):
        raise e.MalformedResponse("the model list is not a list")
    return [name for item in items if (name := _model_name(item))]


def _model_name(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        for key in ("id", "model", "name"):
            if isinstance(item.get(key), str):
                return str(item[key])
    return None
