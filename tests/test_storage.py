"""SQLite storage: WAL mode, migrations, per-chat preferences."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.storage import ChatPreferences, SqliteStorage


async def test_preferences_round_trip_and_stay_per_chat(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "sub" / "bot.sqlite3")
    assert await storage.preferences(1) == ChatPreferences()
    await storage.update_preferences(1, aspect_ratio="16:9")
    await storage.update_preferences(1, image_size="2K")
    await storage.update_preferences(2, image_size="4K")
    assert await storage.preferences(1) == ChatPreferences(aspect_ratio="16:9", image_size="2K")
    assert await storage.preferences(2) == ChatPreferences(image_size="4K")
    await storage.close()


async def test_database_is_wal_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    storage = await SqliteStorage.open(path)
    await storage.update_preferences(7, aspect_ratio="3:2")
    await storage.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
    # Opening again migrates nothing and keeps the data.
    storage = await SqliteStorage.open(path)
    assert (await storage.preferences(7)).aspect_ratio == "3:2"
    await storage.close()


async def test_only_known_preferences_can_be_written(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "bot.sqlite3")
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
    storage = await SqliteStorage.open(path)
    assert await storage.preferences(5) == ChatPreferences(aspect_ratio="4:3", image_size="2K")
    await storage.update_preferences(5, model="google/gemini-3-pro-image", output_format="file")
    assert await storage.preferences(5) == ChatPreferences(
        "4:3", "2K", "google/gemini-3-pro-image", "file"
    )
    await storage.close()
