"""Reading the bot's database from a test, whichever one the bot under test uses."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# Where start_bot notes the PostgreSQL database it gave the bot (absent: SQLite under DATA_DIR).
URL_FILE = "database_url"


def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


def rows(tmp_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows `sql` selects (with `?` parameters) from the bot's database."""
    url_file = tmp_path / URL_FILE
    if not url_file.exists():
        with sqlite3.connect(sqlite_path(tmp_path)) as db:
            return db.execute(sql, params).fetchall()
    # Tests read between awaits: a thread with its own loop does not disturb the test's.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _postgres_rows(url_file.read_text(), sql, params)).result()


async def _postgres_rows(url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return [tuple(record) for record in await connection.fetch(numbered(sql), *params)]
    finally:
        await connection.close()


def numbered(sql: str) -> str:
    """`?` to PostgreSQL's `$1`, `$2`…; the tests' SQL has no `?` inside strings."""
    counter = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)
