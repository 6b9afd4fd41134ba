"""The two databases the bot runs on, behind one small interface: SQLite in a file (one process)
and PostgreSQL (several replicas). Queries are written once, with `:name` parameters and
`{word}`s for the few words the two spell differently, which each driver fills in."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
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

    def __init__(self, message: str, constraint: str | None = None) -> None:
        super().__init__(message)
        # The rule's name, where the database tells it: what callers recognise, not the text.
        self.constraint = constraint


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


@dataclass(slots=True)
class RoundTrips:
    """Statements sent to the database and waited for (a transaction's BEGIN and COMMIT one
    each; with SQLite, trips to aiosqlite's thread): what the bot's requests cost it."""

    count: int = 0


class Row(Protocol):
    """A row read by column name (asyncpg's Record, sqlite3.Row)."""

    def __getitem__(self, column: str, /) -> Any: ...


class Database(Protocol):
    """What the storage needs from a driver: queries with `:name` parameters, given by keyword,
    and `{word}`s from `WORDS`."""

    dialect: Dialect
    # One process only (SQLite): every job in it belongs to this process.
    exclusive: bool
    trips: RoundTrips

    async def fetch(self, sql: str, /, **params: Any) -> list[Row]: ...

    async def execute(self, sql: str, /, **params: Any) -> None: ...

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


# The words the dialects spell differently, as queries name them: `{greatest}(a, b)`.
WORDS: Mapping[Dialect, Mapping[str, str]] = {
    # SQLite's scalar MAX and MIN are GREATEST and LEAST; with one writer there are no row locks
    # to skip.
    Dialect.SQLITE: {"greatest": "MAX", "least": "MIN", "skip_locked": ""},
    Dialect.POSTGRES: {
        "greatest": "GREATEST",
        "least": "LEAST",
        "skip_locked": "FOR UPDATE SKIP LOCKED",
    },
}

# A string literal (left alone), a PostgreSQL cast `::`, a `:name` parameter or a `{word}`.
_TOKEN = re.compile(r"'(?:[^']|'')*'|::|:([A-Za-z_]\w*)|\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Query:
    """A query in one driver's words, and the names of its parameters in their numbered order."""

    text: str
    names: tuple[str, ...]
    expected: frozenset[str]  # the names again, checked on every call

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The parameters in order, each once however often the query uses it; moments as the
        text the schema stores."""
        if params.keys() != self.expected:
            missing, extra = self.expected - params.keys(), params.keys() - self.expected
            raise TypeError(
                f"query parameters missing: {sorted(missing)}, unknown: {sorted(extra)}"
            )
        return tuple(_stored(params[name]) for name in self.names)


def compile_query(sql: str, dialect: Dialect, mark: Callable[[int], str]) -> Query:
    """`sql` with each `:name` made the driver's numbered parameter (`mark(n)`, the same `n` for
    the same name) and each `{word}` the dialect's."""
    names: dict[str, int] = {}
    words = WORDS[dialect]

    def token(match: re.Match[str]) -> str:
        name, word = match.group(1), match.group(2)
        if name:
            return mark(names.setdefault(name, len(names) + 1))
        if word:
            if word not in words:
                raise ValueError(f"not a dialect word: {{{word}}}")
            return words[word]
        return match.group(0)

    text = _TOKEN.sub(token, sql)
    return Query(text, tuple(names), frozenset(names))


def timestamp(moment: datetime) -> str:
    """UTC as text, in SQLite's own format: its date functions and comparisons work on it, and
    PostgreSQL compares it alike."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def moment(text: str) -> datetime:
    """A timestamp the schema stored, read back."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _stored(value: Any) -> Any:
    return timestamp(value) if isinstance(value, datetime) else value


async def open_database(url: str | None, sqlite_path: Path, pool_size: int = 10) -> Database:
    """PostgreSQL when `url` is given (DATABASE_URL), else the SQLite file at `sqlite_path`."""
    if url:
        from bot.store.drivers.postgres import PostgresDatabase

        return await PostgresDatabase.open(url, pool_size)
    from bot.store.drivers.sqlite import SqliteDatabase

    return await SqliteDatabase.open(sqlite_path)
