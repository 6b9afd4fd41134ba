"""The bot's one Telegram rate limiter: calls wait their turn by priority (replies, pictures,
note deletions, then notes) within Telegram's flood limits, and a 429 is waited out."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# Telegram takes about 30 calls a second from a bot; they go one every 1/30 s, as a 30-a-second
# bucket would let a crowd's calls burst to ~60 within one second.
CALLS_PER_SECOND = 30.0
# About one message a second in one chat, with short bursts allowed (a note, its picture and
# its deletion; an album and its caption).
CHAT_INTERVAL = 1.0
CHAT_BURST = 3
# 20 messages a minute in a group.
GROUP_INTERVAL = 3.0
GROUP_BURST = 20
# Past this many chats, those whose pace is fully recovered are forgotten.
CHATS_KEPT = 1024


class Priority(IntEnum):
    """Who goes first when calls wait: lower first."""

    REPLY = 0  # a command's answer, a button tap's: a person is waiting for it
    PICTURE = 1  # a job's result
    DELETION = 2  # a queue note whose picture is out
    NOTE = 3  # a new queue note, or an edit of one


# What a call is by its method when its caller does not say.
_BY_ENDPOINT = {
    "sendPhoto": Priority.PICTURE,
    "sendDocument": Priority.PICTURE,
    "sendMediaGroup": Priority.PICTURE,
    "deleteMessage": Priority.DELETION,
}


@dataclass(frozen=True)
class Turn:
    """A call's `rate_limit_args`: its priority, and whether it is still wanted when its turn
    comes (a queue note whose job started meanwhile is not)."""

    priority: Priority
    wanted: Callable[[], bool] | None = None


class NotWanted(Exception):
    """The call was not made: by its turn it was no longer wanted."""


@dataclass(eq=False)
class _Ticket:
    priority: Priority
    order: int  # first come, first served within a priority
    chat: int | str
    group: bool
    granted: asyncio.Future[None] = field(default_factory=asyncio.Future)


class _Pace:
    """One call every `interval` per key, `burst` of them at once after a pause (GCRA)."""

    def __init__(self, interval: float, burst: int) -> None:
        self._interval = interval
        self._tolerance = (burst - 1) * interval
        self._due: dict[int | str, float] = {}  # key -> when its bucket is full again

    def ready_at(self, key: int | str) -> float:
        return self._due.get(key, float("-inf")) - self._tolerance

    def take(self, key: int | str, now: float) -> None:
        self._due[key] = max(self._due.get(key, now), now) + self._interval
        if len(self._due) > CHATS_KEPT:
            for old in [k for k, due in self._due.items() if due <= now]:
                del self._due[old]


class TelegramBudget(BaseRateLimiter[Turn]):
    """PTB's rate limiter for the bot (`ApplicationBuilder.rate_limiter`). Calls to a chat wait
    for a turn, one every 1/`calls_per_second` s overall, at most about one a second per chat
    and 20 a minute per group; the waiting call of the highest priority whose chat may have one
    goes next. Calls without a chat (getUpdates, answerCallbackQuery, ...) are not limited. A
    RetryAfter halts every call for its `retry_after` (+0.1 s); the call is then made again, up
    to `max_retries` times, as PTB's AIORateLimiter does. `calls_per_second=None`: no limits and
    no retries (a test server), priorities only declared."""

    def __init__(
        self,
        calls_per_second: float | None = CALLS_PER_SECOND,
        *,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1 / calls_per_second if calls_per_second else None
        self._max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._chats = _Pace(CHAT_INTERVAL, CHAT_BURST)
        self._groups = _Pace(GROUP_INTERVAL, GROUP_BURST)
        self._waiting: list[_Ticket] = []
        self._orders = itertools.count()
        self._next_turn = float("-inf")
        self._paused_until = float("-inf")
        self._arrived = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None

    async def initialize(self) -> None:
        """Nothing: turns are handed out once a call waits."""

    async def shutdown(self) -> None:
        """Stop handing out turns; calls still waiting go at once (the bot is closing)."""
        if self._dispatcher:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        for ticket in self._waiting:
            if not ticket.granted.done():
                ticket.granted.set_result(None)
        self._waiting.clear()

    def has_room(self) -> bool:
        """Whether a call made now would go at once: none waits, and the overall pace allows it
        (for calls that only help now, such as "uploading photo…")."""
        if self._interval is None:
            return True
        return not self._waiting and max(self._next_turn, self._paused_until) <= self._clock()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Turn | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        turn = rate_limit_args or Turn(_BY_ENDPOINT.get(endpoint, Priority.REPLY))
        chat = data.get("chat_id")
        order = next(self._orders)
        attempt = 0
        while True:
            if self._interval is not None:
                if chat is None:
                    await self._unpaused()
                else:
                    await self._turn(turn.priority, order, chat)
            if turn.wanted is not None and not turn.wanted():
                raise NotWanted(endpoint)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if self._interval is None or attempt == self._max_retries:
                    raise
                attempt += 1
                wait = _seconds(exc) + 0.1
                log.info("Telegram asked to wait %.1f s (%s); every call waits", wait, endpoint)
                self._paused_until = max(self._paused_until, self._clock() + wait)

    async def _unpaused(self) -> None:
        while (left := self._paused_until - self._clock()) > 0:
            await self._sleep(left)

    async def _turn(self, priority: Priority, order: int, chat: int | str) -> None:
        with contextlib.suppress(ValueError, TypeError):
            chat = int(chat)
        # Only supergroups and channels have a @username; groups have negative ids.
        group = isinstance(chat, str) or chat < 0
        ticket = _Ticket(priority, order, chat, group)
        self._waiting.append(ticket)
        self._arrived.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch())
        try:
            await ticket.granted
        finally:
            if ticket in self._waiting:  # cancelled while waiting: it takes no turn
                self._waiting.remove(ticket)

    def _ready_at(self, ticket: _Ticket) -> float:
        ready = self._chats.ready_at(ticket.chat)
        return max(ready, self._groups.ready_at(ticket.chat)) if ticket.group else ready

    async def _dispatch(self) -> None:
        """Hands out turns, one at a time, for as long as the bot runs."""
        assert self._interval is not None
        while True:
            self._arrived.clear()
            if not self._waiting:
                await self._arrived.wait()
                continue
            now = self._clock()
            if (free_at := max(self._next_turn, self._paused_until)) > now:
                await self._sleep(free_at - now)
                continue
            # A cancelled caller leaves the list as soon as it runs again.
            waiting = [t for t in self._waiting if not t.granted.done()]
            ready = [t for t in waiting if self._ready_at(t) <= now]
            if not ready:  # every waiting call's chat has had its share: the soonest, or a new one
                soonest = min((self._ready_at(t) for t in waiting), default=now + self._interval)
                await self._sleep_or_arrival(soonest - now)
                continue
            ticket = min(ready, key=lambda t: (t.priority, t.order))
            self._waiting.remove(ticket)
            self._chats.take(ticket.chat, now)
            if ticket.group:
                self._groups.take(ticket.chat, now)
            self._next_turn = now + self._interval
            ticket.granted.set_result(None)

    async def _sleep_or_arrival(self, seconds: float) -> None:
        arrival = asyncio.ensure_future(self._arrived.wait())
        timer = asyncio.ensure_future(self._sleep(seconds))
        try:
            await asyncio.wait((arrival, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrival.cancel()
            timer.cancel()


def _seconds(exc: RetryAfter) -> float:
    # PTB 22 warns that `retry_after` will become a timedelta; it is read in either form.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
