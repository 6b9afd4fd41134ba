"""The shared HTTP transport: what it frees, and how it names failed connections."""

from __future__ import annotations

import gc
import socket
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from bot import transport
from tests.fakes.server import serve


@pytest.fixture
async def echo() -> AsyncIterator[str]:
    async def sizes(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "received": len(await request.read()),
                "length": request.headers.get("Content-Length"),
                "chunked": "Transfer-Encoding" in request.headers,
            }
        )

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/upload", sizes)
    runner, url = await serve(app)
    yield url
    await runner.cleanup()


@pytest.mark.parametrize("shape", ["multipart", "json"])
async def test_a_sent_body_is_not_kept_alive_by_its_response(echo: str, shape: str) -> None:
    # A body of its own, so that its reference count says who still holds it.
    image = bytes(bytearray(b"\x89PNG" * 500_000))
    held_before = sys.getrefcount(image)
    gc.disable()  # what frees it must be reference counting, not a collection
    try:
        async with httpx.AsyncClient(transport=transport.pooled(4)) as client:
            if shape == "multipart":
                response = await client.post(
                    f"{echo}/upload", files={"photo": ("p.png", image)}, data={"chat_id": "1"}
                )
            else:
                # How the Eden client sends its bodies.
                stream, length = transport.body_stream(image)
                response = await client.post(f"{echo}/upload", content=stream, headers=length)
            assert response.json()["received"] >= len(image)
            del response
            assert sys.getrefcount(image) == held_before
    finally:
        gc.enable()


async def test_a_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(transport=transport.pooled(1)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_body_stream_is_a_plain_upload_with_its_length(echo: str) -> None:
    """Servers that refuse chunked uploads still get ours."""
    stream, length = transport.body_stream(b"x" * 1000)
    async with httpx.AsyncClient(transport=transport.pooled(1)) as client:
        reply = (await client.post(f"{echo}/upload", content=stream, headers=length)).json()
    assert reply == {"received": 1000, "length": "1000", "chunked": False}


def test_what_the_transport_relies_on_in_httpx_aiohttp() -> None:
    """Guard for upgrades: the transport tunes httpx-aiohttp through these, and fails here,
    with this message, rather than quietly reading 16 KB at a time or keeping bodies alive."""
    import inspect

    from httpx_aiohttp import AiohttpTransport
    from httpx_aiohttp.transport import AiohttpResponseStream

    reads = inspect.getsource(AiohttpResponseStream.__aiter__)
    assert "self.CHUNK_SIZE" in reads, "httpx-aiohttp no longer reads CHUNK_SIZE per stream"
    assert "client" in inspect.signature(AiohttpTransport).parameters, (
        "httpx-aiohttp no longer takes client= (a session factory): the public-only resolver "
        "for image links needs it"
    )
    sends = inspect.getsource(AiohttpTransport.handle_async_request)
    assert "request.stream" in sends, "httpx-aiohttp no longer sends a streamed body as a stream"
