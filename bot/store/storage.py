"""The bot's storage: one protocol and one SQL implementation, combined from the aggregates'
(jobs, ledger, payments, access, chats, updates) over SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bot.store.access import Access, SqlAccess
from bot.store.chats import Chats, SqlChats
from bot.store.drivers import (
    CheckViolated,
    Database,
    DatabaseError,
    Listener,
    open_database,
)
from bot.store.jobs import Jobs, SqlJobs
from bot.store.ledger import Ledger, SqlLedger
from bot.store.payments import Payments, SqlPayments
from bot.store.records import (
    AlbumItem,
    Allowance,
    AuditEntry,
    ChatPreferences,
    ChosenPreset,
    CreditsExhausted,
    DayTotals,
    Limits,
    PastResult,
    Payment,
    PictureRef,
    RemixPrompt,
    Spend,
    StickerSetState,
    StoredChat,
    UserTotals,
)
from bot.store.schema import MIGRATIONS
from bot.store.updates import SqlUpdates, Updates

__all__ = [
    "AlbumItem",
    "Allowance",
    "AuditEntry",
    "ChatPreferences",
    "ChosenPreset",
    "CreditsExhausted",
    "DayTotals",
    "Limits",
    "PastResult",
    "Payment",
    "PictureRef",
    "RemixPrompt",
    "Spend",
    "SqlStorage",
    "StickerSetState",
    "Storage",
    "StorageError",
    "StoredChat",
    "UserTotals",
    "database_failure",
    "open_storage",
]

StorageError = DatabaseError


class Storage(Jobs, Ledger, Payments, Access, Chats, Updates, Protocol):
    """What the bot needs from its database, whichever it is."""

    where: str  # the database, fit for a log line
    exclusive: bool  # one process only (SQLite): every job in it is this process's

    async def listen(self, channel: str, listener: Listener) -> None:
        """Call `listener(payload)` on each `notify` on `channel`, from any replica."""
        ...

    async def notify(self, channel: str, payload: str = "") -> None: ...

    async def hold_polling(self) -> bool: ...

    def serialized(self, *subjects: int) -> AbstractAsyncContextManager[Storage]:
        """Storage inside a transaction that no one else holding any of `subjects` (users,
        chats) shares, in any replica: what is read there cannot change before it is written."""
        ...

    async def ping(self) -> None: ...

    @property
    def round_trips(self) -> int:
        """Statements sent to the database so far (bot/store/drivers)."""
        ...

    async def close(self) -> None: ...


class SqlStorage(SqlJobs, SqlLedger, SqlPayments, SqlAccess, SqlChats, SqlUpdates):
    """The bot's storage on either database; `await open_storage(...)` opens it migrated."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.where = str(db)
        self.exclusive = db.exclusive

    async def listen(self, channel: str, listener: Listener) -> None:
        await self._db.listen(channel, listener)

    async def notify(self, channel: str, payload: str = "") -> None:
        await self._db.notify(channel, payload)

    async def hold_polling(self) -> bool:
        """Take the lock only one polling replica may hold; False if another holds it."""
        return await self._db.hold_polling()

    @asynccontextmanager
    async def serialized(self, *subjects: int) -> AsyncIterator[SqlStorage]:
        async with self._db.serialized(*subjects) as db:
            yield SqlStorage(db)

    async def ping(self) -> None:
        """Raises unless the database takes a write (a new value each time: SQLite skips
        writing a row that would not change)."""
        await self._db.execute(
            "INSERT INTO heartbeat (id, at) VALUES (1, :at) "
            "ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            at=datetime.now(UTC).isoformat(),
        )

    @property
    def round_trips(self) -> int:
        return self._db.trips.count

    async def close(self) -> None:
        await self._db.close()


def database_failure(exc: BaseException) -> bool:
    """Whether `exc` comes from the database (its driver, or the bot's own wrapper of it)."""
    return isinstance(exc, DatabaseError) or type(exc).__module__.startswith(("sqlite3", "asyncpg"))


async def open_storage(
    database_url: str | None, sqlite_path: Path, pool_size: int = 10
) -> SqlStorage:
    """The storage on PostgreSQL at `database_url`, else in the SQLite file at `sqlite_path`;
    migrated, and proven to take writes (a read-only volume or a full disk shows here, not at the
    first user's request). StorageError if it cannot be used."""
    db = await open_database(database_url, sqlite_path, pool_size)
    try:
        await db.migrate(MIGRATIONS)
        storage = SqlStorage(db)
        await storage.ping()
    except BaseException as exc:
        await db.close()  # aiosqlite's thread would keep the process alive, failed start and all
        if isinstance(exc, DatabaseError | CheckViolated):
            raise
        if database_failure(exc):
            raise DatabaseError(f"cannot use the database {db}: {exc}") from exc
        raise
    return storage
