"""The two databases the bot runs on, behind one small interface: SQLite in a file (one process)
and PostgreSQL (several replicas). Queries are written once, in the SQL both understand; each
driver turns the few words they spell differently into its own."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRES = "postgresql"


class DatabaseError(Exception):
    """The database cannot be used; the message names it (never its password) and why."""


class CheckViolated(DatabaseError):
    """A write was refused by one of the schema's own rules (a trigger or a CHECK)."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: statements for both databases, then those only one of them needs
    (SQLite's triggers and PostgreSQL's are written differently)."""

    common: tuple[str, ...] = ()
    sqlite: tuple[str, ...] = ()
    postgres: tuple[str, ...] = ()

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        own = self.sqlite if dialect is Dialect.SQLITE else self.postgres
        return self.common + own


# Locks of the bot's own, apart from the per-user and per-chat ones (PostgreSQL keeps one-key and
# two-key advisory locks apart, so these never collide with an id).
LOCK_SPACE = 0x45444E  # "EDN"


class InternalLock(IntEnum):
    MIGRATIONS = 1
    CLAIM = 2
    POLLING = 3


Listener = Callable[[str], None]


class Database(Protocol):
    """What the storage needs from a driver. `?` marks a parameter in every dialect."""

    dialect: Dialect
    # One process only (SQLite): every job in it belongs to this process.
    exclusive: bool

    async def fetch(self, sql: str, *params: Any) -> list[Sequence[Any]]: ...

    async def execute(self, sql: str, *params: Any) -> None: ...

    def serialized(self, *keys: int) -> AbstractAsyncContextManager[Database]:
        """A transaction in which no other holder of any of `keys` (user or chat ids) runs,
        whichever process it is in; the database it yields runs inside it."""
        ...

    def claiming(self) -> AbstractAsyncContextManager[Database]:
        """A transaction that claims jobs one process at a time (the generation cap is global)."""
        ...

    async def migrate(self, migrations: Sequence[Migration]) -> None: ...

    async def listen(self, channel: str, listener: Listener) -> None:
        """Call `listener(payload)` for each `notify` on `channel`, from any process."""
        ...

    async def notify(self, channel: str, payload: str = "") -> None: ...

    async def hold_polling(self) -> bool:
        """Take the lock that only one polling process may hold; False if another holds it."""
        ...

    async def close(self) -> None: ...


def describe(url: str) -> str:
    """A database URL fit for a log line: no user name, no password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"PostgreSQL at {host}{port}{parts.path}"


def check_version(version: int, known: int, where: str) -> None:
    """Refuse a schema from a newer version of the bot: it may mean things this one would undo."""
    if version > known:
        raise DatabaseError(
            f"the database {where} has schema version {version}, from a newer version of the "
            f"bot; this one knows up to {known}: run the newer version, or restore a backup made "
            "for this one"
        )


_PLACEHOLDER = re.compile(r"\?")


def numbered(sql: str) -> str:
    """`?` to PostgreSQL's `$1`, `$2`…; the bot's SQL has no `?` inside strings."""
    counter = iter(range(1, sql.count("?") + 1))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


async def open_database(url: str | None, sqlite_path: Path, pool_size: int = 10) -> Database:
    """PostgreSQL when `url` is given (DATABASE_URL), else the SQLite file at `sqlite_path`."""
    if url:
        from bot.store.drivers.postgres import PostgresDatabase

        return await PostgresDatabase.open(url, pool_size)
    from bot.store.drivers.sqlite import SqliteDatabase

    return await SqliteDatabase.open(sqlite_path)
