"""The Eden client over real HTTP against the fake Eden server: protocols, switching, errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.domain import ImageRequest, ImageResult, NoPictureReason, Outcome, Picture
from bot.upstream import EdenClient
from bot.upstream import errors as e
from bot.upstream.client import ApiMode
from tests.fakes.eden import API_KEY, FakeEden, chat_reply, images_reply, no_picture_reply
from tests.fakes.images import jpeg, png

MODEL = "google/gemini-3.1-flash-image"
GENERATE = ImageRequest(prompt="a red fox", model=MODEL, aspect_ratio="16:9", image_size="2K")


async def _generate(client: EdenClient, request: ImageRequest) -> ImageResult:
    async with client.generate(request) as result:
        return result


def _client(eden: FakeEden, mode: ApiMode = "auto", **kw: Any) -> EdenClient:
    return EdenClient(base_url=eden.base_url, api_key=kw.pop("api_key", API_KEY), mode=mode, **kw)


async def test_chat_generation_returns_the_decoded_image(eden: FakeEden) -> None:
    eden.image = png(300, 200)
    client = _client(eden)
    result = await _generate(client, GENERATE)
    await client.aclose()
    assert result.picture.data == eden.image
    assert (result.picture.width, result.picture.height, result.picture.mime) == (
        300,
        200,
        "image/png",
    )
    assert result.cost_usd == pytest.approx(eden.cost)
    [call] = eden.calls
    assert call.path == "/chat/completions"
    assert call.headers["Authorization"] == f"Bearer {API_KEY}"
    assert call.body["image_config"] == {"aspect_ratio": "16:9", "image_size": "2K"}


async def test_auto_mode_switches_to_images_once_and_for_all(eden: FakeEden) -> None:
    eden.chat_unsupported = True
    client = _client(eden)
    first = await _generate(client, GENERATE)
    second = await _generate(client, GENERATE)
    await client.aclose()
    assert first.picture.data == second.picture.data == eden.last_image
    assert [c.path for c in eden.calls] == [
        "/chat/completions",
        "/images/generations",
        "/images/generations",
    ]
    sent = eden.calls[1].body
    assert (sent["size"], sent["aspect_ratio"], sent["image_size"]) == ("1792x1024", "16:9", "2K")
    # The fake answers like a LiteLLM-style gateway, so this is the proof the ratio got through.
    assert (first.picture.width, first.picture.height) == (2752, 1536)
    assert (first.protocol, first.shape_sent["aspect_ratio"]) == ("images", "16:9")
    assert client.protocol == "images"


async def test_forced_chat_mode_reports_the_unsupported_model(eden: FakeEden) -> None:
    eden.chat_unsupported = True
    client = _client(eden, mode="chat")
    with pytest.raises(e.ChatCompletionsUnsupported):
        await _generate(client, GENERATE)
    await client.aclose()
    assert [c.path for c in eden.calls] == ["/chat/completions"]


async def test_images_mode_edit_sends_the_photo(eden: FakeEden) -> None:
    photo = jpeg(50, 40)
    request = ImageRequest(
        prompt="make it pink", model=MODEL, aspect_ratio="1:1", image_size="1K",
        images=(Picture(photo, "image/jpeg", 50, 40),),
    )  # fmt: skip
    client = _client(eden, mode="images")
    await _generate(client, request)
    await client.aclose()
    [call] = eden.calls
    assert call.path == "/images/edits"
    assert call.body["images"][0]["image_url"].startswith("data:image/jpeg;base64,")


async def test_hosted_url_is_downloaded_without_the_api_key(eden: FakeEden) -> None:
    hosted = png(20, 10, (1, 2, 3))
    eden.then_json(images_reply(url=eden.host(hosted)))
    client = _client(eden, mode="images")
    result = await _generate(client, GENERATE)
    await client.aclose()
    assert result.picture.data == hosted
    assert eden.hosted_requests and "Authorization" not in eden.hosted_requests[0]


@pytest.mark.parametrize(
    ("status", "body", "error", "retryable"),
    [
        (400, {"error": {"message": "bad prompt"}}, e.BadRequest, False),
        (401, {"detail": "Invalid API key", "error_code": "UNAUTHORIZED"}, e.AuthenticationFailed, False),
        (402, {"error": "Insufficient credits"}, e.InsufficientCredits, False),
        (403, {"detail": "Forbidden"}, e.AuthenticationFailed, False),
        (404, {"detail": "Model not found"}, e.ModelNotFound, False),
        (413, {"detail": "Payload too large"}, e.BadRequest, False),
        (422, {"detail": [{"loc": ["body"], "msg": "bad", "type": "x"}]}, e.BadRequest, False),
        (429, {"detail": "slow down", "error_code": "RATE_LIMITED", "retry_after": 7}, e.RateLimited, True),
        (451, {"detail": "Unavailable in your region"}, e.BadRequest, False),
        (500, {"error": {"message": "boom"}}, e.ProviderError, True),
        (502, "<html>Bad gateway</html>", e.ProviderError, True),
    ],
)  # fmt: skip
async def test_error_statuses(
    eden: FakeEden, status: int, body: Any, error: type[e.StatusError], retryable: bool
) -> None:
    if isinstance(body, str):
        eden.then_text(body, status=status)
    else:
        eden.then_json(body, status=status)
    client = _client(eden)
    with pytest.raises(error) as caught:
        await _generate(client, GENERATE)
    await client.aclose()
    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.retryable is retryable
    assert API_KEY not in str(caught.value)


async def test_retry_after_header_is_read(eden: FakeEden) -> None:
    eden.then_json({"detail": "slow down"}, status=429, headers={"Retry-After": "12"})
    client = _client(eden)
    with pytest.raises(e.RateLimited) as caught:
        await _generate(client, GENERATE)
    await client.aclose()
    assert caught.value.retry_after == 12


async def test_timeout(eden: FakeEden) -> None:
    eden.then_hang(5)
    client = _client(eden, timeout=0.5)
    with pytest.raises(e.UpstreamTimeout):
        await _generate(client, GENERATE)
    await client.aclose()


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = EdenClient(base_url=f"http://127.0.0.1:{port}/v3", api_key=API_KEY)
    with pytest.raises(e.TransportError) as caught:
        await _generate(client, GENERATE)
    await client.aclose()
    assert type(caught.value) is e.TransportError  # not a timeout
    assert "ConnectError" in str(caught.value)
    assert caught.value.retryable


async def test_a_dropped_connection_is_no_timeout(eden: FakeEden) -> None:
    eden.then_drop()
    client = _client(eden)
    with pytest.raises(e.TransportError) as caught:
        await _generate(client, GENERATE)
    await client.aclose()
    assert type(caught.value) is e.TransportError
    assert caught.value.retryable


async def test_refusal_is_no_image_returned(eden: FakeEden) -> None:
    eden.then_json(chat_reply("I can't draw that.", finish_reason="stop"))
    client = _client(eden)
    with pytest.raises(e.NoImageReturned) as caught:
        await _generate(client, GENERATE)
    await client.aclose()
    assert caught.value.model_text == "I can't draw that."


GEMINI_REASONS = [
    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER", "NO_IMAGE",
    "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
]  # fmt: skip
# Every way a generation ends without a picture, and the reason the bot reads from it.
NO_PICTURE = [
    *[({"finish_reason": r}, NoPictureReason(r.lower())) for r in GEMINI_REASONS],
    # A gateway that collapses Gemini's reason to OpenAI's, passing the original on beside it.
    ({"finish_reason": "content_filter", "native": "IMAGE_RECITATION"},
     NoPictureReason.IMAGE_RECITATION),
    ({"finish_reason": "FinishReason.SPII"}, NoPictureReason.SPII),
    ({"finish_reason": "content_filter"}, NoPictureReason.CONTENT_FILTER),
    ({"refusal": "I can't help with that."}, NoPictureReason.REFUSAL),
    ({"finish_reason": "stop", "text": "Here is a poem instead."}, NoPictureReason.TEXT_ONLY),
    ({}, NoPictureReason.EMPTY),
]  # fmt: skip


@pytest.mark.parametrize("protocol", ["chat", "images"])
@pytest.mark.parametrize(("form", "reason"), NO_PICTURE)
async def test_each_way_of_ending_without_a_picture_has_its_reason(
    eden: FakeEden, protocol: str, form: dict[str, str], reason: NoPictureReason
) -> None:
    eden.then_json(no_picture_reply(protocol, **form))
    client = _client(eden, mode="chat" if protocol == "chat" else "images")
    with pytest.raises(e.NoImageReturned) as caught:
        await _generate(client, GENERATE)
    await client.aclose()
    assert caught.value.reason is reason
    assert caught.value.kind is Outcome.REFUSED
    assert caught.value.cost_usd == pytest.approx(0.02)  # the operator's, kept for the ledger
    assert caught.value.model_text == (form.get("text") or form.get("refusal"))


@pytest.mark.parametrize(
    "reply", ["not json at all", chat_reply("data:image/png;base64,aGVsbG8gd29ybGQ=")]
)
async def test_unreadable_answers_are_malformed(eden: FakeEden, reply: Any) -> None:
    if isinstance(reply, str):
        eden.then_text(reply)
    else:
        eden.then_json(reply)
    client = _client(eden)
    with pytest.raises(e.MalformedResponse):
        await _generate(client, GENERATE)
    await client.aclose()


async def test_only_so_many_results_are_held_at_once(eden: FakeEden) -> None:
    """A result is the caller's until it leaves `generate`; the next reply waits unread."""
    eden.image = png(64, 36)
    client = _client(eden, reading_bytes=len(eden.image))
    async with client.generate(GENERATE) as first:
        second = asyncio.create_task(_generate(client, GENERATE))
        await eden.wait_for_calls(2)
        await asyncio.sleep(0.3)
        assert not second.done()
        assert first.picture.data == eden.image
    assert (await second).picture.data == eden.image
    await client.aclose()


async def test_waiting_to_read_is_not_the_upstreams_time(eden: FakeEden) -> None:
    """An image already made (and paid for) is not thrown away as a timeout while it waits."""
    eden.image = png(64, 36)
    client = _client(eden, reading_bytes=len(eden.image), timeout=0.5)
    async with client.generate(GENERATE):
        second = asyncio.create_task(_generate(client, GENERATE))
        await eden.wait_for_calls(2)
        await asyncio.sleep(1.0)  # twice the timeout, holding the budget
    assert (await second).picture.data == eden.image
    await client.aclose()


class _Endless(httpx.AsyncByteStream):
    """An error page of `chunks` MiB, sent without a length; counts what was taken of it."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.taken += 1
            yield b"<p>Bad gateway</p>" + b" " * (1024 * 1024 - 18)


async def test_an_error_answer_is_read_only_up_to_a_small_cap() -> None:
    page = _Endless(200)

    def bad_gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, stream=page)

    http = httpx.AsyncClient(transport=httpx.MockTransport(bad_gateway))
    client = EdenClient(base_url="https://eden.test/v3", api_key=API_KEY, mode="chat", http=http)
    with pytest.raises(e.ProviderError) as caught:
        await _generate(client, GENERATE)
    await client.aclose()
    assert caught.value.status == 502
    assert caught.value.retryable
    assert page.taken == 1  # of 200 MiB on offer: the first MiB is past the cap already
