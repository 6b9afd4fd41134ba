"""Gathering an album's photos, which Telegram delivers as separate updates (to any replica),
into one request."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from telegram import Message

from bot.store.storage import AlbumItem
from bot.store.updates import Updates

# Telegram sends an album's items within a fraction of a second and says neither how many nor
# which is last: an album is complete once no item has arrived for this long (in any replica).
QUIET_SECONDS = 1.0


@dataclass
class _Album:
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class AlbumCollector:
    """Every item is written down; the first one this process got waits for the album to be
    quiet, then takes all of it, whichever replica each item reached. Replicas' clocks must agree
    to within a fraction of QUIET_SECONDS (NTP does)."""

    def __init__(self, storage: Updates, quiet_seconds: float = QUIET_SECONDS) -> None:
        self._storage = storage
        self._quiet = quiet_seconds
        self._albums: dict[tuple[int, str], _Album] = {}

    async def collect(self, message: Message) -> list[Message] | None:
        """All of the album's messages in order, to the one caller that takes it; None to the
        others."""
        chat_id, group = message.chat_id, message.media_group_id or ""
        item = AlbumItem(message.message_id, json.dumps(message.to_dict()))
        await self._storage.add_album_item(chat_id, group, item, time.time())
        key = (chat_id, group)
        album = self._albums.get(key)
        if album is not None:
            album.arrived.set()
            return None
        album = self._albums[key] = _Album()
        try:
            while True:
                await self._quiet_here(album)
                taken = await self._storage.take_album(chat_id, group, time.time() - self._quiet)
                if taken is None:
                    return None  # another replica took it
                if taken:
                    bot = message.get_bot()
                    return [Message.de_json(json.loads(i.message), bot) for i in taken]
                # An item reached another replica lately: wait for the quiet there too.
        finally:
            del self._albums[key]

    async def _quiet_here(self, album: _Album) -> None:
        while True:
            album.arrived.clear()
            # Not wait_for, which can swallow a cancellation (bot/jobs/workers.py).
            try:
                async with asyncio.timeout(self._quiet):
                    await album.arrived.wait()
            except TimeoutError:
                return
