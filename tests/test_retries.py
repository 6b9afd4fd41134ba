"""Retries, in process: the Eden client inside the retrying layer, as the bot wires them, against
the fake Eden on 127.0.0.1; what is tried again, how often, after how long, and what the user is
told when it still fails. (Moved here from the end-to-end tests, which keep one failure told.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot import texts
from bot.app import eden_client, image_service
from bot.config import EdenSettings, LoadSettings
from bot.domain import ImageRequest, ImageResult
from bot.upstream import EdenClient, ImageService, UpstreamError
from bot.upstream import errors as e
from tests.fakes.eden import API_KEY, FakeEden

FOX = ImageRequest("a fox", "google/gemini-nano-banana-2.1", "1:1", "1K", requester=2001)


def _fail_with(status: int) -> Callable[[FakeEden], None]:
    return lambda eden: eden.then_json({"error": {"message": "try later"}}, status=status)


TRANSIENT: dict[str, Callable[[FakeEden], None]] = {
    **{str(status): _fail_with(status) for status in (429, 500, 502, 503, 504)},
    "dropped-connection": FakeEden.then_drop,
    "malformed-body": lambda eden: eden.then_text("<html>not json</html>"),
}


@pytest.fixture
async def wired(eden: FakeEden) -> AsyncIterator[Callable[..., ImageService]]:
    """`wired(**settings)`: the image service as bot/app.py builds it, with those settings (the
    environment's names) on top of the tests' quick retries; nothing read from the environment."""
    clients: list[EdenClient] = []

    def wire(**settings: str) -> ImageService:
        ours = {"UPSTREAM_RETRY_BASE_SECONDS": "0.05", **settings}
        eden_settings = EdenSettings.model_validate(
            {"api_key": API_KEY, "base_url": eden.base_url}
            | {k.removeprefix("EDENAI_").lower(): v for k, v in ours.items() if k[:7] == "EDENAI_"}
        )
        load = LoadSettings.model_validate(
            {k.lower(): v for k, v in ours.items() if k[:7] != "EDENAI_"}
        )
        client = eden_client(eden_settings)
        clients.append(client)
        return image_service(load, client)

    yield wire
    for client in clients:
        await client.aclose()


async def _generate(service: ImageService) -> ImageResult | UpstreamError:
    try:
        async with service.generate(FOX) as result:
            return result
    except UpstreamError as exc:
        return exc


@pytest.mark.parametrize("fail", TRANSIENT.values(), ids=TRANSIENT.keys())
async def test_transient_failures_are_retried(
    wired: Callable[..., ImageService], eden: FakeEden, fail: Callable[[FakeEden], None]
) -> None:
    fail(eden)
    fail(eden)
    result = await _generate(wired(UPSTREAM_RETRIES="2"))
    assert isinstance(result, ImageResult)
    assert len(eden.calls) == 3


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 413, 422])
async def test_permanent_statuses_are_not_retried(
    wired: Callable[..., ImageService], eden: FakeEden, status: int
) -> None:
    eden.then_json({"detail": "no"}, status=status)
    failure = await _generate(wired(UPSTREAM_RETRIES="3"))
    assert isinstance(failure, UpstreamError) and not failure.retryable
    assert "tried" not in texts.upstream_failure(failure)
    assert len(eden.calls) == 1


async def test_retry_after_is_honoured(wired: Callable[..., ImageService], eden: FakeEden) -> None:
    eden.then_json(
        {"detail": "slow down", "error_code": "RATE_LIMITED", "retry_after": 1.5}, status=429
    )
    assert isinstance(await _generate(wired(UPSTREAM_RETRIES="1")), ImageResult)
    first, second = eden.calls
    assert second.at - first.at >= 1.5


async def test_a_timeout_is_not_retried_by_default(
    wired: Callable[..., ImageService], eden: FakeEden
) -> None:
    eden.then_hang(5)
    failure = await _generate(wired(EDENAI_TIMEOUT_SECONDS="1", UPSTREAM_RETRIES="2"))
    assert isinstance(failure, e.UpstreamTimeout)
    assert "took too long" in texts.upstream_failure(failure)
    # The upstream may still finish and bill that one: no second (paid) attempt.
    assert len(eden.calls) == 1


async def test_timeouts_are_retried_when_the_operator_asks(
    wired: Callable[..., ImageService], eden: FakeEden
) -> None:
    eden.then_hang(5)
    service = wired(
        EDENAI_TIMEOUT_SECONDS="1", UPSTREAM_RETRIES="2", UPSTREAM_RETRY_TIMEOUTS="true"
    )
    assert isinstance(await _generate(service), ImageResult)
    assert len(eden.calls) == 2
