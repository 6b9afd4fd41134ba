"""SQLite in one file through aiosqlite: the embedded default, for one process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiosqlite

from bot.store.drivers import (
    CheckViolated,
    DatabaseError,
    Dialect,
    Listener,
    Migration,
    Query,
    RoundTrips,
    Row,
    check_version,
    compile_query,
)


@lru_cache(maxsize=256)
def _query(sql: str) -> Query:
    # `?NNN`: SQLite's numbered parameters, so a value used twice is bound once.
    return compile_query(sql, Dialect.SQLITE, lambda n: f"?{n}")


def _violated(exc: sqlite3.IntegrityError) -> CheckViolated:
    """A trigger's RAISE names its trigger before a colon (the schema's convention); SQLite
    tells no other constraint's name apart from its message."""
    trigger = exc.sqlite_errorcode == sqlite3.SQLITE_CONSTRAINT_TRIGGER and ":" in str(exc)
    return CheckViolated(str(exc), str(exc).partition(":")[0] if trigger else None)


def _create_private(path: Path) -> None:
    """Create the database file (and its directory) readable by this user only, unless it exists:
    it holds who used the bot and when. SQLite gives its -wal and -shm files the same mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class SqliteDatabase:
    """One connection in autocommit: every write is one statement, so each is its own
    transaction, and a write is one trip to aiosqlite's thread instead of two."""

    dialect = Dialect.SQLITE
    exclusive = True

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._db = connection
        self._path = path
        # One process: locks in memory serialize what PostgreSQL serializes with advisory locks.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._listeners: defaultdict[str, list[Listener]] = defaultdict(list)
        self.trips = RoundTrips()

    @classmethod
    async def open(cls, path: Path) -> SqliteDatabase:
        try:
            _create_private(path)
            connection = await aiosqlite.connect(path, isolation_level=None)
            connection.row_factory = sqlite3.Row
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseError(f"cannot open the database {path}: {exc}") from exc
        try:
            await connection.execute("PRAGMA journal_mode=WAL")
            # With WAL this stays consistent after a crash and skips an fsync per commit; a power
            # cut may lose the last moments of the ledger, never the database.
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute("PRAGMA busy_timeout=5000")
        except BaseException as exc:
            await connection.close()  # aiosqlite's thread would keep the process alive
            if isinstance(exc, sqlite3.Error):
                raise DatabaseError(f"cannot use the database {path}: {exc}") from exc
            raise
        return cls(connection, path)

    def __str__(self) -> str:
        return str(self._path)

    async def fetch(self, sql: str, /, **params: Any) -> list[Row]:
        query = _query(sql)
        self.trips.count += 1
        try:
            return list(await self._db.execute_fetchall(query.text, query.values(params)))
        except sqlite3.IntegrityError as exc:
            raise _violated(exc) from exc

    async def execute(self, sql: str, /, **params: Any) -> None:
        query = _query(sql)
        self.trips.count += 1
        try:
            await self._db.execute(query.text, query.values(params))
        except sqlite3.IntegrityError as exc:
            raise _violated(exc) from exc

    @contextlib.asynccontextmanager
    async def serialized(self, *keys: int) -> AsyncIterator[SqliteDatabase]:
        async with contextlib.AsyncExitStack() as stack:
            # Always in the same order, so that two holders of the same keys never deadlock.
            for key in sorted(set(keys)):
                await stack.enter_async_context(self._lock(key))
            yield self

    @contextlib.asynccontextmanager
    async def claiming(self) -> AsyncIterator[SqliteDatabase]:
        yield self  # one writer: a claim is one statement

    def _lock(self, key: int) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def migrate(self, migrations: Sequence[Migration]) -> None:
        try:
            [row] = await self.fetch("PRAGMA user_version")
            version = int(row["user_version"])
            check_version(version, len(migrations), str(self._path))
            for number, migration in enumerate(migrations[version:], start=version + 1):
                # One transaction per version: a crash mid-way leaves the previous version whole.
                body = "".join(f"{sql};\n" for sql in migration.statements(self.dialect))
                await self._db.executescript(
                    f"BEGIN;\n{body}PRAGMA user_version = {number};\nCOMMIT;"
                )
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot use the database {self._path}: {exc}") from exc

    async def listen(self, channel: str, listener: Listener) -> None:
        self._listeners[channel].append(listener)

    async def notify(self, channel: str, payload: str = "") -> None:
        for listener in self._listeners[channel]:
            listener(payload)

    async def hold_polling(self) -> bool:
        return True  # one process by construction

    async def close(self) -> None:
        await self._db.close()
