"""The HTTP transport under both clients (Telegram's and Eden's): httpx's API on aiohttp's pool."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream

# httpx-aiohttp hands a body on in 16 KB pieces: ~3,000 trips through httpx's stream layers
# for a 4K image's 47 MB of base64. Up to 1 MB (whatever has arrived) makes it a few dozen.
READ_CHUNK_BYTES = 1 << 20


def pooled(
    max_connections: int, resolver: AbstractResolver | None = None
) -> httpx.AsyncBaseTransport:
    """A transport holding up to `max_connections` open connections; `resolver`, if given,
    decides which addresses a host name may connect to.

    httpcore, httpx's own transport, re-examines every connection and every waiting request on
    each request and response: with a few hundred requests in flight that bookkeeping took a
    quarter of the bot's CPU. aiohttp's pool hands out connections in constant time, and its
    HTTP parser is compiled."""
    if resolver is None:
        return _Transport(limits=httpx.Limits(max_connections=max_connections))

    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, resolver=resolver)
        )

    # httpx-aiohttp's documented way to bring one's own session (made on first use, in the loop).
    return _Transport(client=session)


class _Transport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            # httpx-aiohttp 0.2 reports every failed connection (refused, reset, dropped) as a
            # ConnectTimeout; only a timeout is one here, so that callers tell them apart.
            cause = exc.__cause__
            if isinstance(cause, TimeoutError):
                raise
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            raise httpx.RemoteProtocolError(str(exc), request=request) from cause
        # The answer has begun, so the body has been sent: it is let go here. httpx keeps a
        # request in a reference cycle with its response, so an upload's megabytes would
        # otherwise stay in memory until the cyclic garbage collector's rare full pass. (Bodies
        # the bot builds itself are streams that keep no copy: see `body_stream`.)
        request.stream = httpx.ByteStream(b"")
        if isinstance(response.stream, AiohttpResponseStream):
            response.stream.CHUNK_SIZE = READ_CHUNK_BYTES
        return response


class _OnceStream(httpx.AsyncByteStream):
    """A request body that is given up once sent. Built from bytes, an httpx request keeps a
    private copy (`Request.content`) for its whole life; built from a stream, it keeps none."""

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body, self._body = self._body, None
        if body:
            yield body


def body_stream(body: bytes) -> tuple[httpx.AsyncByteStream, dict[str, str]]:
    """`body` as a stream that forgets it once sent, and the header that keeps it a plain
    (not chunked) upload: httpx adds `Transfer-Encoding: chunked` only without a length."""
    return _OnceStream(body), {"Content-Length": str(len(body))}
