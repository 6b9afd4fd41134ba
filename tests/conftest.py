"""Fixtures: the two fake servers, and the real bot process wired to them."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.store.storage import Storage, open_storage
from tests.fakes.database import URL_FILE
from tests.fakes.eden import API_KEY, FakeEden
from tests.fakes.process import BotProcess
from tests.fakes.telegram import FakeTelegram
from tests.postgres import PostgresNotInstalled, PostgresServer

BOT_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(BOT_TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def eden() -> AsyncIterator[FakeEden]:
    server = FakeEden()
    await server.start()
    yield server
    await server.stop()


StartBot = Callable[..., Awaitable[BotProcess]]
OpenStore = Callable[[], Awaitable[Storage]]

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: about SQLite itself (its file, its pragmas): not run on PostgreSQL"
    )
    config.addinivalue_line("markers", "postgresql_only: about several replicas on one database")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a database runs on each (`backend`), unless it is about SQLite."""
    if "backend" in metafunc.fixturenames:
        backends: tuple[str, ...] = BACKENDS
        if metafunc.definition.get_closest_marker("sqlite_only"):
            backends = ("sqlite",)
        if metafunc.definition.get_closest_marker("postgresql_only"):
            backends = ("postgresql",)
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """A new empty PostgreSQL database for the test, or None for SQLite under tmp_path."""
    if backend == "sqlite":
        return None
    url = str(request.getfixturevalue("postgres_url"))
    (tmp_path / URL_FILE).write_text(url)  # for tests.fakes.database.rows
    return url


@pytest.fixture
async def open_store(database_url: str | None, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens the storage on the test's database (each call another connection to it)."""
    opened: list[Storage] = []

    async def open_() -> Storage:
        storage = await open_storage(database_url, tmp_path / "data" / "bot.sqlite3")
        opened.append(storage)
        return storage

    yield open_
    for storage in opened:
        await storage.close()


@pytest.fixture
async def start_bot(
    telegram: FakeTelegram, eden: FakeEden, tmp_path: Path, database_url: str | None
) -> AsyncIterator[StartBot]:
    """Starts `python -m bot ARGS` with the fakes' URLs, on the test's database; keyword
    arguments add settings (None removes one)."""
    processes: list[BotProcess] = []

    async def start(*args: str, **settings: str | None) -> BotProcess:
        env: dict[str, str | None] = {
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_URL": telegram.url,
            "EDENAI_API_KEY": API_KEY,
            "EDENAI_BASE_URL": eden.base_url,
            "DATA_DIR": str(tmp_path / "data"),
            "LOG_LEVEL": "DEBUG",
            # One upstream call per request unless a test is about retries, and quick ones then.
            "UPSTREAM_RETRIES": "0",
            "UPSTREAM_RETRY_BASE_SECONDS": "0.05",
            "HEALTH_PORT": "0",
            # Open and unlimited, as most tests need; the access tests pass their own.
            "ALLOW_EVERYONE": "true",
            "USER_DAILY_IMAGES": "0",
            "DATABASE_URL": database_url,
            **settings,
        }
        process = BotProcess({k: v for k, v in env.items() if v is not None}, tmp_path, args)
        await process.start()
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.running:
            await process.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# In the reason of every PostgreSQL test skipped for want of PostgreSQL (ALLOW_NO_POSTGRES=1).
POSTGRES_NOT_RUN = "PostgreSQL tests did NOT run"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server of this test process's own (each xdist worker starts one, on a
    free port). Without PostgreSQL: an error, or a loud skip where ALLOW_NO_POSTGRES=1."""
    try:
        server = PostgresServer.start()
    except PostgresNotInstalled as error:
        if os.environ.get("ALLOW_NO_POSTGRES") == "1":
            pytest.skip(f"{POSTGRES_NOT_RUN} (ALLOW_NO_POSTGRES=1): {error}")
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database on the server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A banner no one can miss when PostgreSQL tests were skipped for want of PostgreSQL."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if POSTGRES_NOT_RUN in str(getattr(report, "longrepr", ""))
    ]
    if not skipped:
        return
    terminalreporter.write_sep("!", f"{POSTGRES_NOT_RUN.upper()}", red=True, bold=True)
    terminalreporter.write_line(
        f"{len(skipped)} PostgreSQL tests were SKIPPED: PostgreSQL is not installed here and"
        " ALLOW_NO_POSTGRES=1 allowed it. Nothing was tested on PostgreSQL.",
        red=True,
        bold=True,
    )
    terminalreporter.write_sep("!", red=True, bold=True)
