"""SQLite storage: WAL mode, migrations, per-chat preferences. What both databases must do alike
is in tests/test_databases.py."""

from __future__ import annotations

import sqlite3
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import Order, Outcome
from bot.jobs.model import Closing, NewJob, Requester
from bot.store.drivers import Dialect
from bot.store.schema import MIGRATIONS
from bot.store.storage import ChatPreferences, StorageError, open_storage


async def test_preferences_round_trip_and_stay_per_chat(tmp_path: Path) -> None:
    storage = await open_storage(None, tmp_path / "sub" / "bot.sqlite3")
    assert (await storage.chat(1)).preferences == ChatPreferences()
    await storage.update_preferences(1, aspect_ratio="16:9")
    await storage.update_preferences(1, image_size="2K")
    await storage.update_preferences(2, image_size="4K")
    assert (await storage.chat(1)).preferences == ChatPreferences(
        aspect_ratio="16:9", image_size="2K"
    )
    assert (await storage.chat(2)).preferences == ChatPreferences(image_size="4K")
    await storage.close()


async def test_database_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    storage = await open_storage(None, path)
    await storage.update_preferences(7, aspect_ratio="3:2")
    await storage.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
    # Opening again migrates nothing and keeps the data.
    storage = await open_storage(None, path)
    assert ((await storage.chat(7)).preferences).aspect_ratio == "3:2"
    await storage.close()


async def test_only_known_preferences_can_be_written(tmp_path: Path) -> None:
    storage = await open_storage(None, tmp_path / "bot.sqlite3")
    with pytest.raises(ValueError, match="not a preference"):
        await storage.update_preferences(1, **{"chat_id = 0; DROP TABLE chat_preferences; --": "x"})
    await storage.close()


async def test_a_database_from_the_first_schema_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE chat_preferences (
                chat_id INTEGER PRIMARY KEY, aspect_ratio TEXT, image_size TEXT,
                updated_at TEXT NOT NULL DEFAULT (datetime('now'))
            );
            INSERT INTO chat_preferences (chat_id, aspect_ratio, image_size) VALUES (5, '4:3', '2K');
            PRAGMA user_version = 1;
            """
        )
    storage = await open_storage(None, path)
    assert (await storage.chat(5)).preferences == ChatPreferences(
        aspect_ratio="4:3", image_size="2K"
    )
    await storage.update_preferences(5, model="google/gemini-3-pro-image", output_format="file")
    assert (await storage.chat(5)).preferences == ChatPreferences(
        "4:3", "2K", "google/gemini-3-pro-image", "file"
    )
    await storage.close()


async def test_a_database_from_the_previous_schema_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    previous = len(MIGRATIONS) - 1
    with sqlite3.connect(path) as db:
        for migration in MIGRATIONS[:previous]:
            for statement in migration.statements(Dialect.SQLITE):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {previous}")
        db.execute("INSERT INTO chat_preferences (chat_id, aspect_ratio) VALUES (9, '9:16')")
    storage = await open_storage(None, path)
    assert ((await storage.chat(9)).preferences).aspect_ratio == "9:16"
    await storage.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def _job(user_id: int, when: datetime, prompt: str = "a fox", keep: bool = False) -> NewJob:
    return NewJob(
        who=Requester(user_id, chat_id=7, message_id=70, in_group=True),
        order=Order(prompt, "google/gemini-3.1-flash-image", "16:9", "2K", inputs=2),
        output_format="file",
        file_ids=("file-a", "file-b"),
        estimated_cost_usd=0.05,
        created_at=when,
        keep_prompt=keep,
    )


async def test_the_ledger_counts_spend_per_user_and_period(tmp_path: Path) -> None:
    storage = await open_storage(None, tmp_path / "bot.sqlite3")
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    async def request(user_id: int, when: datetime, outcome: Outcome, cost: float) -> None:
        job_id = await storage.open_job(_job(user_id, when))
        if not outcome.open:
            await storage.close_request(Closing(job_id, outcome, cost, False, 10))

    await request(1, now, Outcome.OK, 0.1)
    await request(1, now - timedelta(days=2), Outcome.OK, 0.2)
    await request(1, now, Outcome.TIMEOUT, 0.0)
    await request(1, now, Outcome.QUEUED, 0.0)  # counts at its estimate while open
    await request(2, now, Outcome.OK, 0.4)
    today = await storage.spend(1, now.replace(hour=0))
    assert (today.images, round(today.cost_usd, 3), today.estimated) == (2, 0.15, True)
    month = await storage.spend(1, now.replace(day=1, hour=0))
    assert (month.images, round(month.cost_usd, 3)) == (3, 0.35)
    failures = await storage.failures_by_kind(now - timedelta(days=7))
    assert failures == [("timeout", 1)]
    top = await storage.top_users(now - timedelta(days=7), limit=5)
    assert [(u.user_id, u.images) for u in top] == [(2, 1), (1, 2)]
    await storage.close()


async def test_requests_left_open_by_an_older_version_are_answered_as_interrupted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as db:
        for statement in (s for m in MIGRATIONS[:4] for s in m.statements(Dialect.SQLITE)):
            db.execute(statement)
        db.execute(
            "INSERT INTO requests (created_at, chat_id, user_id, kind, model, aspect_ratio, "
            "image_size) VALUES ('2026-11-01 10:00:00', 1, 1, 'generate', 'm', '1:1', '1K')"
        )
        db.execute("PRAGMA user_version = 4")
    storage = await open_storage(None, path)
    job = await storage.job(1)
    assert job is not None
    assert (job.outcome, job.upstream_sent) == (Outcome.RUNNING, True)
    await storage.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    storage = await open_storage(None, path)
    await storage.update_preferences(1, aspect_ratio="1:1")
    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o600
    assert _mode(path.with_name("bot.sqlite3-wal")) == 0o600
    await storage.close()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"garbage" * 1000, "file is not a database"),
        (None, "schema version 99, from a newer version of the bot; this one knows up to"),
    ],
)
async def test_an_unusable_database_is_refused_and_closed(
    tmp_path: Path, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "bot.sqlite3"
    if content is None:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 99")
    else:
        path.write_bytes(content)
    before = set(threading.enumerate())
    with pytest.raises(StorageError, match=problem) as refused:
        await open_storage(None, path)
    assert str(path) in str(refused.value)
    # aiosqlite's thread ends: it would keep a failed process alive.
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=5)
        assert not thread.is_alive()
