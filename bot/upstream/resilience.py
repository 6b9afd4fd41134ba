"""Layers around any ImageService: retries with backoff for transient failures, and a circuit
breaker that fails fast while the service is down."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.domain import ImageRequest, ImageResult
from bot.upstream import errors as e
from bot.upstream.service import ImageService

log = logging.getLogger(__name__)


class RetryingService:
    """Retries transient failures (`retryable` errors) with exponential backoff and jitter,
    waiting what a 429's `retry_after` asks for instead when it says."""

    def __init__(
        self,
        inner: ImageService,
        *,
        retries: int,
        base_delay: float,
        max_delay: float = 30.0,
        retry_timeouts: bool = False,
    ) -> None:
        self._inner = inner
        self._retries = retries
        self._retry_timeouts = retry_timeouts
        self._max_delay = max_delay
        self._backoff = wait_exponential_jitter(
            multiplier=base_delay, max=max_delay, jitter=base_delay
        )

    @contextlib.asynccontextmanager
    async def generate(self, request: ImageRequest) -> AsyncIterator[ImageResult]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retries + 1),
            wait=self._wait,
            retry=retry_if_exception(self._worth_retrying),
            before_sleep=self._log_retry,
            reraise=True,
        )
        async with contextlib.AsyncExitStack() as lease:
            try:
                # Only getting the result is retried; the caller's use of it is not.
                async for attempt in retrying:
                    with attempt:
                        result = await lease.enter_async_context(self._inner.generate(request))
            except e.UpstreamError as exc:
                exc.attempts = retrying.statistics.get("attempt_number", 1)
                raise
            yield result

    def _worth_retrying(self, exc: BaseException) -> bool:
        if not isinstance(exc, e.UpstreamError) or not exc.retryable:
            return False
        if isinstance(exc, e.UpstreamTimeout) and not self._retry_timeouts:
            # The upstream may finish and bill the generation we stopped waiting for.
            return False
        # A long `retry_after` is better told to the user than waited out in silence.
        return not (isinstance(exc, e.RateLimited) and (exc.retry_after or 0) > self._max_delay)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, e.RateLimited) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("attempt %d failed (%s); retrying in %.1f s", state.attempt_number, exc, wait)

    async def aclose(self) -> None:
        await self._inner.aclose()


class CircuitBreaker:
    """After `threshold` consecutive service failures, requests fail at once for `cooloff`
    seconds; then one request is let through as a probe, and its success closes the circuit.

    A failure counts once per requester per `cooloff`: a 5xx may be about one user's request
    (its prompt, its input image), and one user asking again and again must not make the
    service look down to everyone else."""

    def __init__(
        self,
        inner: ImageService,
        *,
        threshold: int,
        cooloff: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._threshold = threshold
        self._cooloff = cooloff
        self._clock = clock
        self._failures = 0
        # When each requester's failure last counted, since the last success.
        self._counted: dict[int | None, float] = {}
        self._opened_at: float | None = None
        self._probing = False

    @contextlib.asynccontextmanager
    async def generate(self, request: ImageRequest) -> AsyncIterator[ImageResult]:
        probe = False
        if self._opened_at is not None:
            left = self._cooloff - (self._clock() - self._opened_at)
            if left > 0 or self._probing:
                raise e.ServiceUnavailable(max(left, 0.0))
            probe = self._probing = True
        async with contextlib.AsyncExitStack() as lease:
            try:
                result = await lease.enter_async_context(self._inner.generate(request))
            except e.UpstreamError as exc:
                # Only trouble with the service counts; a refusal or a bad request means it is up.
                if exc.retryable:
                    self._failed(probe, request.requester)
                else:
                    self._recovered()
                raise
            finally:
                if probe:
                    self._probing = False
            self._recovered()
            yield result

    def _failed(self, probe: bool, requester: int | None) -> None:
        now = self._clock()
        last = self._counted.get(requester)
        if not probe and last is not None and now - last < self._cooloff:
            return
        self._counted[requester] = now
        self._failures += 1
        if probe or (self._opened_at is None and self._failures >= self._threshold):
            if not probe:
                log.warning(
                    "image service failed %d times in a row; failing fast for %.0f s",
                    self._failures,
                    self._cooloff,
                )
            self._opened_at = self._clock()

    def _recovered(self) -> None:
        if self._opened_at is not None:
            log.warning("image service answered again; circuit closed")
        self._failures = 0
        self._counted.clear()
        self._opened_at = None

    async def aclose(self) -> None:
        await self._inner.aclose()
