"""Gathering an album's photos, which Telegram delivers as separate updates, into one request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from telegram import Message

# Telegram sends an album's items within a fraction of a second and says neither how many nor
# which is last: an album is complete once no item has arrived for this long.
QUIET_SECONDS = 1.0


@dataclass
class _Album:
    messages: list[Message]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class AlbumCollector:
    """The first update of an album waits for the rest; the later ones only add themselves."""

    def __init__(self, quiet_seconds: float = QUIET_SECONDS) -> None:
        self._quiet = quiet_seconds
        self._albums: dict[tuple[int, str], _Album] = {}

    async def collect(self, message: Message) -> list[Message] | None:
        """All of the album's messages in order, to the first caller; None to the others."""
        key = (message.chat_id, message.media_group_id or "")
        album = self._albums.get(key)
        if album is not None:
            album.messages.append(message)
            album.arrived.set()
            return None
        album = self._albums[key] = _Album([message])
        try:
            while True:
                album.arrived.clear()
                try:
                    await asyncio.wait_for(album.arrived.wait(), self._quiet)
                except TimeoutError:
                    break
        finally:
            del self._albums[key]
        return sorted(album.messages, key=lambda m: m.message_id)
