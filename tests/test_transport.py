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
        return web.json_response({"received": len(await request.read())})

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
                response = await client.post(f"{echo}/upload", content=image)
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
