"""What the replicas share about incoming updates: those seen, and albums being gathered."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.store.base import Aggregate
from bot.store.records import AlbumItem


class Updates(Protocol):
    """Each update handled once, and an album's messages gathered into one request."""

    async def seen_update(self, update_id: int) -> bool: ...

    async def first_sight(self, update_id: int, now: datetime) -> bool: ...

    async def forget_updates(self, before: datetime) -> None: ...

    async def add_album_item(
        self, chat_id: int, group: str, item: AlbumItem, at: float
    ) -> None: ...

    async def take_album(
        self, chat_id: int, group: str, quiet_since: float
    ) -> list[AlbumItem] | None: ...


class SqlUpdates(Aggregate):
    async def seen_update(self, update_id: int) -> bool:
        """Whether this update was handled already (Telegram sent it again)."""
        rows = await self._db.fetch(
            "SELECT 1 FROM seen_updates WHERE update_id = :update_id", update_id=update_id
        )
        return bool(rows)

    async def first_sight(self, update_id: int, now: datetime) -> bool:
        """Remember a handled update; whether it was new (False: another replica handled it
        too)."""
        rows = await self._db.fetch(
            "INSERT INTO seen_updates (update_id, seen_at) VALUES (:update_id, :now) "
            "ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
            update_id=update_id,
            now=now,
        )
        return bool(rows)

    async def forget_updates(self, before: datetime) -> None:
        await self._db.execute("DELETE FROM seen_updates WHERE seen_at < :before", before=before)

    async def add_album_item(self, chat_id: int, group: str, item: AlbumItem, at: float) -> None:
        await self._db.execute(
            "INSERT INTO album_items (chat_id, media_group_id, message_id, message, added_at) "
            "VALUES (:chat_id, :group, :message_id, :message, :at) "
            "ON CONFLICT (chat_id, media_group_id, message_id) DO NOTHING",
            chat_id=chat_id,
            group=group,
            message_id=item.message_id,
            message=item.message,
            at=at,
        )

    async def take_album(
        self, chat_id: int, group: str, quiet_since: float
    ) -> list[AlbumItem] | None:
        """All of an album's items, in order, if none arrived after `quiet_since` (in any
        replica); [] while items still arrive; None if another replica took the album."""
        rows = await self._db.fetch(
            "DELETE FROM album_items WHERE chat_id = :chat_id AND media_group_id = :group "
            "AND (SELECT MAX(added_at) FROM album_items "
            "WHERE chat_id = :chat_id AND media_group_id = :group) <= :quiet_since "
            "RETURNING message_id, message",
            chat_id=chat_id,
            group=group,
            quiet_since=quiet_since,
        )
        if rows:
            items = (AlbumItem(int(row["message_id"]), row["message"]) for row in rows)
            return sorted(items, key=lambda a: a.message_id)
        left = await self._db.fetch(
            "SELECT 1 FROM album_items "
            "WHERE chat_id = :chat_id AND media_group_id = :group LIMIT 1",
            chat_id=chat_id,
            group=group,
        )
        return [] if left else None
