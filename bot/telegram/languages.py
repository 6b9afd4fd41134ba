"""Each user's language: the one they chose with /language (stored), else their Telegram app's."""

from __future__ import annotations

from cachetools import LRUCache
from telegram import User

from bot import i18n
from bot.store.chats import Chats

# Every update asks for its sender's language: remembered, the answer costs no database trip.
REMEMBERED_USERS = 100_000


class UserLanguages:
    def __init__(self, storage: Chats, remembered: int = REMEMBERED_USERS) -> None:
        self._storage = storage
        self._chosen: LRUCache[int, str | None] = LRUCache(remembered)

    async def chosen(self, user_id: int) -> str | None:
        """The catalog the user chose, or None to follow their Telegram app."""
        if user_id in self._chosen:
            return self._chosen[user_id]
        stored = await self._storage.language(user_id)
        # A choice made while this was read is newer than what was read: it stays.
        return self._chosen.setdefault(user_id, i18n.catalog_name(stored))

    async def choose(self, user_id: int, language: str | None) -> None:
        await self._storage.set_language(user_id, language)
        self._chosen[user_id] = language

    async def of(self, user: User | None) -> str:
        """The catalog to answer `user` in."""
        if user is None:
            return i18n.DEFAULT
        return await self.chosen(user.id) or i18n.pick(user.language_code)
