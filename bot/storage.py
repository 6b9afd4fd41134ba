"""Per-chat preferences behind a small async interface, kept in SQLite (WAL) by aiosqlite."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosqlite


@dataclass(frozen=True, slots=True)
class ChatPreferences:
    """What a chat chose; None means "the operator's default"."""

    aspect_ratio: str | None = None
    image_size: str | None = None
    model: str | None = None
    output_format: str | None = None


_COLUMNS = tuple(f.name for f in dataclasses.fields(ChatPreferences))


class Storage(Protocol):
    """What the bot needs from a database; SQLite today, a server database later."""

    async def preferences(self, chat_id: int) -> ChatPreferences: ...

    async def update_preferences(self, chat_id: int, **values: str | None) -> None: ...

    async def close(self) -> None: ...


# Each entry moves the schema one version up; existing databases replay only what they lack.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE chat_preferences (
            chat_id      INTEGER PRIMARY KEY,
            aspect_ratio TEXT,
            image_size   TEXT,
            updated_at   TEXT NOT NULL DEFAULT (datetime('now'))
        )
        """,
    ),
    (
        "ALTER TABLE chat_preferences ADD COLUMN model TEXT",
        "ALTER TABLE chat_preferences ADD COLUMN output_format TEXT",
    ),
)


class SqliteStorage:
    """Storage in one SQLite file; open it with `await SqliteStorage.open(path)`."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, path: Path) -> SqliteStorage:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA busy_timeout=5000")
        storage = cls(connection)
        await storage._migrate()
        return storage

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        for number, statements in enumerate(_MIGRATIONS[version:], start=version + 1):
            # One transaction per version: a crash mid-migration leaves the previous version whole.
            body = "".join(f"{statement};\n" for statement in statements)
            await self._db.executescript(f"BEGIN;\n{body}PRAGMA user_version = {number};\nCOMMIT;")

    async def preferences(self, chat_id: int) -> ChatPreferences:
        async with self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM chat_preferences WHERE chat_id = ?", (chat_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return ChatPreferences(*row) if row else ChatPreferences()

    async def update_preferences(self, chat_id: int, **values: str | None) -> None:
        unknown = values.keys() - set(_COLUMNS)
        if unknown or not values:
            raise ValueError(f"not a preference: {sorted(unknown) or 'nothing given'}")
        # Column names come from ChatPreferences' fields (checked above), never from user input.
        columns = ", ".join(values)
        placeholders = ", ".join("?" for _ in values)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in values)
        await self._db.execute(
            f"INSERT INTO chat_preferences (chat_id, {columns}) VALUES (?, {placeholders}) "
            f"ON CONFLICT(chat_id) DO UPDATE SET {assignments}, updated_at = datetime('now')",
            (chat_id, *values.values()),
        )
        await self._db.commit()

    async def close(self) -> None:
        await self._db.close()
