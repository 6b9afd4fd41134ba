"""The circuit breaker, in process with a fake clock: it opens for the service's trouble, not
for one user's."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from bot.domain import ImageRequest, ImageResult
from bot.upstream import CircuitBreaker
from bot.upstream import errors as e

ALICE, BOB, CAROL = 1, 2, 3


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Down:
    """An image service answering every request with a 503."""

    def __init__(self) -> None:
        self.calls = 0

    @contextlib.asynccontextmanager
    async def generate(self, request: ImageRequest) -> AsyncIterator[ImageResult]:
        self.calls += 1
        raise e.ProviderError("unavailable", status=503)
        yield  # pragma: no cover

    async def aclose(self) -> None:
        pass


def _for(user: int) -> ImageRequest:
    return ImageRequest("a fox", "google/gemini-3.1-flash-image", "1:1", "1K", requester=user)


async def _ask(breaker: CircuitBreaker, user: int) -> type[e.UpstreamError]:
    with pytest.raises(e.UpstreamError) as caught:
        async with breaker.generate(_for(user)):
            pass
    return type(caught.value)


async def test_one_users_failures_do_not_open_the_breaker_for_everyone() -> None:
    clock, service = _Clock(), _Down()
    breaker = CircuitBreaker(service, threshold=3, cooloff=60, clock=clock)
    for _ in range(5):
        assert await _ask(breaker, ALICE) is e.ProviderError
        clock.now += 1
    # Bob's request is still sent: Alice's five failures counted once.
    assert await _ask(breaker, BOB) is e.ProviderError
    assert service.calls == 6
    # A third user failing too: the service is down for all, and requests fail fast.
    assert await _ask(breaker, CAROL) is e.ProviderError
    assert await _ask(breaker, ALICE) is e.ServiceUnavailable
    assert service.calls == 7


async def test_a_users_failures_count_again_after_the_cooloff() -> None:
    clock, service = _Clock(), _Down()
    breaker = CircuitBreaker(service, threshold=2, cooloff=60, clock=clock)
    assert await _ask(breaker, ALICE) is e.ProviderError
    clock.now += 61
    assert await _ask(breaker, ALICE) is e.ProviderError
    assert await _ask(breaker, BOB) is e.ServiceUnavailable
    assert service.calls == 2
