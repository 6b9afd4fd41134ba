"""A small share of Telegram's flood budget for cosmetic calls (queue notes, their edits and
deletions, chat actions), so that results and command replies never wait behind them.

Telegram takes about 30 messages a second from a bot, edits included, and PTB's AIORateLimiter
serves whatever comes first. Left alone, a crowd's queue notes would be sent ahead of the
pictures. Cosmetic calls therefore pass this budget first, a few a second: calls that must
happen eventually wait their turn (`spend`), calls that only help now are dropped when there is
no room (`try_spend`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# Of Telegram's ~30 a second: results (one per picture) and command replies keep the rest.
COSMETIC_CALLS_PER_SECOND = 8.0


class CosmeticBudget:
    """A token bucket of `rate` calls a second, up to `burst` saved up."""

    def __init__(
        self,
        rate: float = COSMETIC_CALLS_PER_SECOND,
        burst: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._waiters = 0
        self._turn = asyncio.Lock()

    def try_spend(self) -> bool:
        """A call now, or False; never ahead of a call that is waiting for one."""
        if self._waiters:
            return False
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def spend(self) -> None:
        """Wait for a call's worth; waiting callers are served in order."""
        self._waiters += 1
        try:
            async with self._turn:
                self._refill()
                if self._tokens < 1:
                    await asyncio.sleep((1 - self._tokens) / self._rate)
                    self._refill()
                self._tokens -= 1
        finally:
            self._waiters -= 1

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
