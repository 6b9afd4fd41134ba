"""Fixtures: the two fake servers, and the real bot process wired to them."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.storage import Storage, open_storage
from tests.fakes.database import URL_FILE
from tests.fakes.eden import API_KEY, FakeEden
from tests.fakes.process import BotProcess
from tests.fakes.telegram import FakeTelegram

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
