"""A memory budget shared by waiting holders: at most so many bytes held at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ByteBudget:
    """Lets callers hold `size` bytes each while the total stays within `capacity`; the others
    wait. A holder larger than the whole capacity is let in alone, rather than never."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self._freed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        size = min(size, self.capacity)
        # No await between the check and the taking: nothing can slip in between them.
        while self.held + size > self.capacity:
            self._freed.clear()
            await self._freed.wait()
        self.held += size
        try:
            yield
        finally:
            self.held -= size
            self._freed.set()
