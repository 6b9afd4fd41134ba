"""What every aggregate's queries share: the database they run on."""

from __future__ import annotations

from bot.store.drivers import Database


class Aggregate:
    """One aggregate's queries over the storage's database (SqlStorage combines them all)."""

    def __init__(self, db: Database) -> None:
        self._db = db
