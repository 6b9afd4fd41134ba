"""The HTTP transport under both clients (Telegram's and Eden's): httpx's API on aiohttp's pool."""

from __future__ import annotations

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream

# httpx-aiohttp hands a body on in 16 KB pieces: ~3,000 trips through httpx's stream layers
# for a 4K image's 47 MB of base64. Up to 1 MB (whatever has arrived) makes it a few dozen.
READ_CHUNK_BYTES = 1 << 20


def pooled(max_connections: int) -> httpx.AsyncBaseTransport:
    """A transport holding up to `max_connections` open connections.

    httpcore, httpx's own transport, re-examines every connection and every waiting request on
    each request and response: with a few hundred requests in flight that bookkeeping took a
    quarter of the bot's CPU. aiohttp's pool hands out connections in constant time, and its
    HTTP parser is compiled."""
    return _Transport(limits=httpx.Limits(max_connections=max_connections))


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
        # The answer has begun, so the body has been sent: it is forgotten here. httpx keeps a
        # request in a reference cycle with its response, so an upload's megabytes of image
        # would otherwise stay in memory until the cyclic garbage collector's rare full pass.
        request.stream = httpx.ByteStream(b"")
        request._content = b""
        if isinstance(response.stream, AiohttpResponseStream):
            response.stream.CHUNK_SIZE = READ_CHUNK_BYTES
        return response
