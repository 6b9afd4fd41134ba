"""Image links in replies: fetched only over https from public addresses (or from the API's own
host), within a byte cap and a deadline; a failure is its own kind, not the service's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.domain import ImageRequest, ImageResult
from bot.upstream import CircuitBreaker, EdenClient
from bot.upstream import errors as e
from bot.upstream.hosted import is_public
from tests.fakes.eden import API_KEY, FakeEden, chat_reply, images_reply
from tests.fakes.images import png

REQUEST = ImageRequest("a fox", "google/gemini-3.1-flash-image", "1:1", "1K")


@pytest.fixture
async def internal() -> AsyncIterator[FakeEden]:
    """Another server on loopback: an internal page that must never be fetched."""
    server = FakeEden()
    await server.start()
    yield server
    await server.stop()


async def _generate(eden: FakeEden, **kw: Any) -> ImageResult:
    client = EdenClient(base_url=eden.base_url, api_key=API_KEY, mode="images", **kw)
    try:
        async with client.generate(REQUEST) as result:
            return result
    finally:
        await client.aclose()


async def test_an_image_on_the_apis_own_host_is_fetched(eden: FakeEden) -> None:
    hosted = png(1024, 1024)
    eden.then_json(images_reply(url=eden.host(hosted)))
    assert (await _generate(eden)).picture.data == hosted


@pytest.mark.parametrize("reply", ["images", "chat-markdown", "chat-bare"])
async def test_a_link_to_another_loopback_server_is_not_fetched(
    eden: FakeEden, internal: FakeEden, reply: str
) -> None:
    url = internal.host(png(1024, 1024))
    eden.then_json(
        {
            "images": images_reply(url=url),
            "chat-markdown": chat_reply(f"Here it is: ![img]({url})"),
            "chat-bare": chat_reply(url),
        }[reply]
    )
    client = EdenClient(
        base_url=eden.base_url, api_key=API_KEY, mode="images" if reply == "images" else "chat"
    )
    with pytest.raises(e.HostedImageFailed, match="not https"):
        async with client.generate(REQUEST):
            pass
    await client.aclose()
    assert internal.hosted_requests == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1:9/a.png", "non-public 127.0.0.1"),
        ("https://[::1]:9/a.png", "non-public ::1"),
        ("https://10.1.2.3/a.png", "non-public 10.1.2.3"),
        ("https://169.254.169.254/latest/meta-data", "non-public 169.254.169.254"),
        ("https://[::ffff:192.168.0.1]/a.png", "non-public ::ffff:c0a8:1"),
        # A name is judged by the address it resolves to.
        ("https://localhost:9/a.png", "localhost resolves to the non-public"),
        ("http://example.com/a.png", "not https"),
        # Addresses a URL parser refuses (octal, a port out of range) end as a refusal too.
        ("https://0177.0.0.1/a.png", "not valid: https://0177.0.0.1"),
        ("https://example.com:99999/a.png", "not valid: https://example.com:99999"),
    ],
)
async def test_links_to_non_public_addresses_are_refused(
    eden: FakeEden, url: str, why: str
) -> None:
    eden.then_json(images_reply(url=url))
    with pytest.raises(e.HostedImageFailed, match=why.replace("[", r"\[")):
        await _generate(eden)


async def test_a_redirect_to_a_private_address_is_refused(
    eden: FakeEden, internal: FakeEden
) -> None:
    eden.then_json(images_reply(url=eden.host_redirect(internal.host(png(8, 8)))))
    with pytest.raises(e.HostedImageFailed, match="not https"):
        await _generate(eden)
    assert internal.hosted_requests == []


async def test_a_huge_hosted_image_is_cut_off_at_the_cap(eden: FakeEden) -> None:
    eden.then_json(images_reply(url=eden.host_stream(b"x" * 65536, every=0, count=1000)))
    with pytest.raises(e.HostedImageFailed, match="more than 1 MB"):
        await _generate(eden, max_hosted_bytes=1024 * 1024)
    # Far less than the 65 MB on offer was taken.
    assert eden.streamed < 16 * 1024 * 1024


async def test_a_trickling_hosted_image_meets_the_deadline(eden: FakeEden) -> None:
    eden.then_json(images_reply(url=eden.host_stream(b"x", every=0.2, count=10_000)))
    with pytest.raises(e.HostedImageFailed, match="took over 1 s"):
        await _generate(eden, timeout=1.0)
    assert eden.streamed < 100


async def test_a_404_from_the_image_host_is_not_a_missing_model(eden: FakeEden) -> None:
    eden.then_json(images_reply(url=f"{eden.root}/hosted/gone.png"))
    with pytest.raises(e.HostedImageFailed, match="HTTP 404") as caught:
        await _generate(eden)
    assert not isinstance(caught.value, e.ModelNotFound)


async def test_hosted_failures_do_not_open_the_breaker(eden: FakeEden) -> None:
    client = EdenClient(base_url=eden.base_url, api_key=API_KEY, mode="images")
    breaker = CircuitBreaker(client, threshold=2, cooloff=60)
    for _ in range(3):
        eden.then_json(images_reply(url="https://127.0.0.1/a.png"))
        with pytest.raises(e.HostedImageFailed):
            async with breaker.generate(REQUEST):
                pass
    # The service is up: the next request is sent, not failed fast.
    async with breaker.generate(REQUEST) as result:
        assert result.picture.width == 1024
    await breaker.aclose()
    assert len(eden.calls) == 4


async def test_a_reply_past_the_byte_cap_is_refused(eden: FakeEden) -> None:
    eden.image = png(1024, 1024, (1, 2, 3))
    with pytest.raises(e.ReplyTooLarge):
        await _generate(eden, max_reply_bytes=1000)


async def test_a_trickling_reply_meets_the_deadline(eden: FakeEden) -> None:
    async def trickle(request: web.Request, _: Any) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"data": [{"b64_json": "')
        for _ in range(100):
            await response.write(b"AAAA")
            await asyncio.sleep(0.2)
        return response

    eden.then(trickle)
    with pytest.raises(e.UpstreamTimeout, match="to read"):
        await _generate(eden, timeout=1.0)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("127.0.0.1", False),
        ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
        ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False),
        ("224.0.0.1", False), ("::1", False), ("fe80::1%eth0", False), ("fc00::1", False),
        ("::ffff:127.0.0.1", False), ("::ffff:8.8.8.8", True), ("240.0.0.1", False),
    ],
)  # fmt: skip
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public
