"""The database: per-chat preferences and the request ledger, behind a small async interface,
kept in SQLite (WAL) by aiosqlite."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from bot.domain import Funding, Order, Outcome
from bot.jobs import Closing, Job, JobOptions, NewJob, Requester


class StorageError(Exception):
    """The database cannot be used; the message names the file and why."""


@dataclass(frozen=True, slots=True)
class ChatPreferences:
    """What a chat chose; None means "the operator's default"."""

    aspect_ratio: str | None = None
    image_size: str | None = None
    model: str | None = None
    output_format: str | None = None


@dataclass(frozen=True, slots=True)
class Spend:
    """A user's images and money over a period; requests still running count at their estimate."""

    images: int = 0
    cost_usd: float = 0.0
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class DayTotals:
    day: str
    ok: int
    failed: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class UserTotals:
    user_id: int
    images: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Limits:
    """An operator's override for one user or chat; None keeps the .env default."""

    daily_images: int | None = None
    monthly_budget_usd: float | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change an admin made from Telegram: who, what, to whom, when."""

    at: datetime
    admin_id: int
    action: str
    subject_id: int | None
    value: str | None


@dataclass(frozen=True, slots=True)
class Payment:
    """A Telegram Stars payment: the credits it bought, and whether it was refunded."""

    charge_id: str
    user_id: int
    credits: int
    stars: int
    refunded: bool = False


class Storage(Protocol):
    """What the bot needs from a database; SQLite today, a server database later."""

    async def preferences(self, chat_id: int) -> ChatPreferences: ...

    async def update_preferences(self, chat_id: int, **values: str | None) -> None: ...

    async def open_job(self, job: NewJob) -> int: ...

    async def job(self, job_id: int) -> Job | None: ...

    async def open_jobs(self) -> list[Job]: ...

    async def open_job_ids(self, chat_id: int, user_id: int | None) -> list[int]: ...

    async def claim(self, job_id: int) -> Job | None: ...

    async def upstream_sent(self, job_id: int) -> None: ...

    async def requeue(self, job_id: int) -> None: ...

    async def set_note(self, job_id: int, note_id: int) -> None: ...

    async def set_result(self, job_id: int, file_id: str) -> None: ...

    async def forget_requests(self, before: datetime) -> int: ...

    async def close_request(self, closing: Closing) -> None: ...

    async def spend(self, user_id: int, since: datetime, *, free_only: bool = False) -> Spend: ...

    async def ping(self) -> None: ...

    async def daily_totals(self, since: datetime) -> list[DayTotals]: ...

    async def top_users(self, since: datetime, limit: int) -> list[UserTotals]: ...

    async def failures_by_kind(self, since: datetime) -> list[tuple[str, int]]: ...

    async def chat_spend(self, chat_id: int, since: datetime) -> Spend: ...

    async def access_rules(self) -> dict[int, bool]: ...

    async def set_access(self, subject_id: int, allowed: bool) -> None: ...

    async def limits(self) -> dict[int, Limits]: ...

    async def set_limits(self, subject_id: int, limits: Limits) -> None: ...

    async def audit(
        self, admin_id: int, action: str, subject_id: int | None, value: str
    ) -> None: ...

    async def audit_log(self, limit: int) -> list[AuditEntry]: ...

    async def credits(self, user_id: int) -> int: ...

    async def add_payment(self, payment: Payment) -> bool: ...

    async def payment(self, charge_id: str) -> Payment | None: ...

    async def refund_payment(self, charge_id: str) -> bool: ...

    async def close(self) -> None: ...


# Each entry moves the schema one version up; existing databases replay only what they lack.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE chat_preferences (
            chat_id      INTEGER PRIMARY KEY,
            aspect_ratio TEXT,
            image_size   TEXT,
            updated_at   TEXT NOT NULL DEFAULT (datetime('now'))
        )
        """,
    ),
    (
        "ALTER TABLE chat_preferences ADD COLUMN model TEXT",
        "ALTER TABLE chat_preferences ADD COLUMN output_format TEXT",
    ),
    (
        """
        CREATE TABLE requests (
            id             INTEGER PRIMARY KEY,
            created_at     TEXT NOT NULL,
            finished_at    TEXT,
            chat_id        INTEGER NOT NULL,
            user_id        INTEGER,
            message_id     INTEGER,
            kind           TEXT NOT NULL,
            model          TEXT NOT NULL,
            aspect_ratio   TEXT NOT NULL,
            image_size     TEXT NOT NULL,
            outcome        TEXT NOT NULL DEFAULT 'pending',
            cost_usd       REAL NOT NULL DEFAULT 0,
            cost_estimated INTEGER NOT NULL DEFAULT 1,
            latency_ms     INTEGER,
            prompt         TEXT
        )
        """,
        "CREATE INDEX requests_by_user ON requests (user_id, created_at)",
        "CREATE INDEX requests_by_time ON requests (created_at)",
    ),
    (
        # One row, rewritten by each health check: proof that the database takes writes.
        "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL)",
    ),
    (
        # A request is a durable job until it is answered: what it takes to carry it out after a
        # restart. `job_prompt` and `file_ids` are kept only while it is open.
        "ALTER TABLE requests ADD COLUMN in_group INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE requests ADD COLUMN inputs INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE requests ADD COLUMN output_format TEXT NOT NULL DEFAULT 'photo'",
        "ALTER TABLE requests ADD COLUMN file_ids TEXT",
        "ALTER TABLE requests ADD COLUMN job_prompt TEXT",
        "ALTER TABLE requests ADD COLUMN note_id INTEGER",
        "ALTER TABLE requests ADD COLUMN upstream_sent INTEGER NOT NULL DEFAULT 0",
        # Requests an earlier version left open were running upstream: answered as interrupted.
        "UPDATE requests SET outcome = 'running', upstream_sent = 1 WHERE outcome = 'pending'",
        "CREATE INDEX requests_open ON requests (chat_id) WHERE outcome IN ('queued', 'running')",
    ),
    (
        # Operated from Telegram: admins' allow/deny (users have positive ids, chats negative)
        # and limits on top of .env, each change audited.
        """
        CREATE TABLE access_rules (
            subject_id INTEGER PRIMARY KEY,
            allowed    INTEGER NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (datetime('now'))
        )
        """,
        """
        CREATE TABLE limits (
            subject_id         INTEGER PRIMARY KEY,
            daily_images       INTEGER,
            monthly_budget_usd REAL,
            updated_at         TEXT NOT NULL DEFAULT (datetime('now'))
        )
        """,
        """
        CREATE TABLE audit (
            id         INTEGER PRIMARY KEY,
            at         TEXT NOT NULL DEFAULT (datetime('now')),
            admin_id   INTEGER NOT NULL,
            action     TEXT NOT NULL,
            subject_id INTEGER,
            value      TEXT
        )
        """,
        # Group budgets sum a chat's month.
        "CREATE INDEX requests_by_chat ON requests (chat_id, created_at)",
        # Telegram Stars: a balance of image credits per user, and the payments that bought them.
        "ALTER TABLE requests ADD COLUMN funding TEXT NOT NULL DEFAULT 'free'",
        """
        CREATE TABLE credits (
            user_id INTEGER PRIMARY KEY,
            balance INTEGER NOT NULL CHECK (balance >= 0)
        )
        """,
        """
        CREATE TABLE payments (
            charge_id   TEXT PRIMARY KEY,
            user_id     INTEGER NOT NULL,
            credits     INTEGER NOT NULL,
            stars       INTEGER NOT NULL,
            paid_at     TEXT NOT NULL DEFAULT (datetime('now')),
            refunded_at TEXT
        )
        """,
        # Balances move only in the same statement as the row that justifies them, so a crash
        # can never charge without a job, credit a payment twice, or give a credit back twice.
        """
        CREATE TRIGGER payment_credits AFTER INSERT ON payments BEGIN
            INSERT OR IGNORE INTO credits (user_id, balance) VALUES (NEW.user_id, 0);
            UPDATE credits SET balance = balance + NEW.credits WHERE user_id = NEW.user_id;
        END
        """,
        # A refund takes back what is left of the credits bought (some may have been used).
        """
        CREATE TRIGGER refund_debits AFTER UPDATE OF refunded_at ON payments
        WHEN OLD.refunded_at IS NULL AND NEW.refunded_at IS NOT NULL BEGIN
            UPDATE credits SET balance = MAX(0, balance - NEW.credits)
            WHERE user_id = NEW.user_id;
        END
        """,
        """
        CREATE TRIGGER job_charges_credit BEFORE INSERT ON requests
        WHEN NEW.funding = 'credit' BEGIN
            SELECT RAISE(ABORT, 'no credits left')
            WHERE COALESCE((SELECT balance FROM credits WHERE user_id = NEW.user_id), 0) < 1;
            UPDATE credits SET balance = balance - 1 WHERE user_id = NEW.user_id;
        END
        """,
        # A job paid with a credit that ends without a picture (failed, cancelled, interrupted)
        # gives it back; only the first closing of an open job can.
        """
        CREATE TRIGGER job_returns_credit AFTER UPDATE OF outcome ON requests
        WHEN NEW.funding = 'credit' AND OLD.outcome IN ('queued', 'running')
            AND NEW.outcome NOT IN ('ok', 'queued', 'running') BEGIN
            UPDATE credits SET balance = balance + 1 WHERE user_id = NEW.user_id;
        END
        """,
    ),
    (
        # A closed request stays a job that a result button can run again, until
        # REQUEST_RETENTION_DAYS clear its prompt, inputs and result (forget_requests).
        # `images`: the pictures it makes (x4 makes four), what quotas count.
        "ALTER TABLE requests ADD COLUMN images INTEGER NOT NULL DEFAULT 1",
        # The input is a result, to be made larger and otherwise unchanged.
        "ALTER TABLE requests ADD COLUMN enlarge INTEGER NOT NULL DEFAULT 0",
        # Inline mode: the message the picture goes into, instead of a reply in `chat_id`.
        "ALTER TABLE requests ADD COLUMN inline_message_id TEXT",
        "ALTER TABLE requests ADD COLUMN result_file_id TEXT",
    ),
)

_PREFERENCES = tuple(f.name for f in dataclasses.fields(ChatPreferences))
# Requests that used (or may still use) the user's allowance.
_OPEN = f"outcome IN ('{Outcome.QUEUED}', '{Outcome.RUNNING}')"
_COUNTED = f"outcome IN ('{Outcome.OK}', '{Outcome.QUEUED}', '{Outcome.RUNNING}')"
# Requests paid from the free allowance: credit-funded ones use none of it.
_FREE = f"funding = '{Funding.FREE}'"
_FAILED = f"outcome NOT IN ('{Outcome.OK}', '{Outcome.QUEUED}', '{Outcome.RUNNING}')"
_JOB_COLUMNS = (
    "id, chat_id, user_id, message_id, in_group, job_prompt, model, aspect_ratio, image_size, "
    "inputs, output_format, file_ids, cost_usd, outcome, created_at, note_id, upstream_sent, "
    "funding, images, enlarge, inline_message_id, result_file_id"
)


def _timestamp(moment: datetime) -> str:
    """UTC in SQLite's own format, so that date() and comparisons work on the column."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _create_private(path: Path) -> None:
    """Create the database file (and its directory) readable by this user only, unless it exists:
    it holds who used the bot and when. SQLite gives its -wal and -shm files the same mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class SqliteStorage:
    """Storage in one SQLite file; open it with `await SqliteStorage.open(path)`."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, path: Path) -> SqliteStorage:
        """The database at `path`, created if need be; StorageError if it cannot be used (a
        damaged file, a read-only volume, a schema from a newer version of the bot)."""
        try:
            _create_private(path)
            # Autocommit: every write here is one statement, so each is its own transaction, and
            # a write is one trip to aiosqlite's thread instead of two (execute, then commit).
            connection = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the database {path}: {exc}") from exc
        try:
            await connection.execute("PRAGMA journal_mode=WAL")
            # With WAL this stays consistent after a crash and skips an fsync per commit; a power
            # cut may lose the last moments of the ledger, never the database.
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute("PRAGMA busy_timeout=5000")
            storage = cls(connection)
            await storage._migrate(path)
            # A read-only volume or a full disk shows here, not at the first user's request.
            await storage.ping()
        except BaseException as exc:
            # aiosqlite's thread would keep the process alive, failed start and all.
            await connection.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"cannot use the database {path}: {exc}") from exc
            raise
        return storage

    async def _migrate(self, path: Path) -> None:
        [(version,)] = await self._rows("PRAGMA user_version")
        if version > len(_MIGRATIONS):
            raise StorageError(
                f"the database {path} has schema version {version}, from a newer version of the "
                f"bot; this one knows up to {len(_MIGRATIONS)}: run the newer version, or restore "
                "a backup made for this one"
            )
        for number, statements in enumerate(_MIGRATIONS[version:], start=version + 1):
            # One transaction per version: a crash mid-migration leaves the previous version whole.
            body = "".join(f"{statement};\n" for statement in statements)
            await self._db.executescript(f"BEGIN;\n{body}PRAGMA user_version = {number};\nCOMMIT;")

    # Each is one trip to aiosqlite's thread: in a burst every trip waits behind all the others.
    async def _rows(self, sql: str, *params: Any) -> list[Any]:
        return list(await self._db.execute_fetchall(sql, params))

    async def _write(self, sql: str, *params: Any) -> int | None:
        cursor = await self._db.execute(sql, params)
        return cursor.lastrowid

    # ---- preferences -------------------------------------------------------------------------
    async def preferences(self, chat_id: int) -> ChatPreferences:
        rows = await self._rows(
            f"SELECT {', '.join(_PREFERENCES)} FROM chat_preferences WHERE chat_id = ?", chat_id
        )
        return ChatPreferences(*rows[0]) if rows else ChatPreferences()

    async def update_preferences(self, chat_id: int, **values: str | None) -> None:
        unknown = values.keys() - set(_PREFERENCES)
        if unknown or not values:
            raise ValueError(f"not a preference: {sorted(unknown) or 'nothing given'}")
        # Column names come from ChatPreferences' fields (checked above), never from user input.
        columns = ", ".join(values)
        placeholders = ", ".join("?" for _ in values)
        assignments = ", ".join(f"{name} = excluded.{name}" for name in values)
        await self._write(
            f"INSERT INTO chat_preferences (chat_id, {columns}) VALUES (?, {placeholders}) "
            f"ON CONFLICT(chat_id) DO UPDATE SET {assignments}, updated_at = datetime('now')",
            chat_id,
            *values.values(),
        )

    # ---- jobs and the ledger -----------------------------------------------------------------
    async def open_job(self, job: NewJob) -> int:
        who, order = job.who, job.order
        job_id = await self._write(
            "INSERT INTO requests (created_at, chat_id, user_id, message_id, in_group, kind, "
            "model, aspect_ratio, image_size, inputs, output_format, file_ids, cost_usd, outcome, "
            "job_prompt, prompt, funding, images, enlarge, inline_message_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _timestamp(job.created_at),
            who.chat_id,
            who.user_id,
            who.message_id,
            int(who.in_group),
            order.kind.value,
            order.model,
            order.aspect_ratio,
            order.image_size,
            order.inputs,
            job.output_format,
            json.dumps(job.file_ids),
            job.estimated_cost_usd,
            Outcome.QUEUED.value,
            order.prompt,
            order.prompt if job.keep_prompt else None,
            job.funding.value,
            job.options.images,
            int(job.options.enlarge),
            job.options.inline_message_id,
        )
        assert job_id is not None
        return job_id

    async def job(self, job_id: int) -> Job | None:
        rows = await self._rows(f"SELECT {_JOB_COLUMNS} FROM requests WHERE id = ?", job_id)
        return _job(rows[0]) if rows else None

    async def open_jobs(self) -> list[Job]:
        rows = await self._rows(f"SELECT {_JOB_COLUMNS} FROM requests WHERE {_OPEN} ORDER BY id")
        return [_job(row) for row in rows]

    async def open_job_ids(self, chat_id: int, user_id: int | None) -> list[int]:
        rows = await self._rows(
            f"SELECT id FROM requests WHERE chat_id = ? AND user_id IS ? AND {_OPEN} ORDER BY id",
            chat_id,
            user_id,
        )
        return [job_id for (job_id,) in rows]

    async def claim(self, job_id: int) -> Job | None:
        """Mark a queued job running and read it, in one trip; None if it is not queued (it was
        answered meanwhile). A job without input images goes upstream right after this, so it
        is marked as sent here and needs no second write: only a crash in between would answer
        it as interrupted rather than run it again."""
        rows = await self._rows(
            f"UPDATE requests SET outcome = '{Outcome.RUNNING}', upstream_sent = (inputs = 0) "
            f"WHERE id = ? AND outcome = '{Outcome.QUEUED}' RETURNING {_JOB_COLUMNS}",
            job_id,
        )
        return _job(rows[0]) if rows else None

    async def upstream_sent(self, job_id: int) -> None:
        await self._write("UPDATE requests SET upstream_sent = 1 WHERE id = ?", job_id)

    async def requeue(self, job_id: int) -> None:
        await self._write(
            f"UPDATE requests SET outcome = '{Outcome.QUEUED}' WHERE id = ? AND NOT upstream_sent",
            job_id,
        )

    async def set_note(self, job_id: int, note_id: int) -> None:
        await self._write("UPDATE requests SET note_id = ? WHERE id = ?", note_id, job_id)

    async def set_result(self, job_id: int, file_id: str) -> None:
        await self._write("UPDATE requests SET result_file_id = ? WHERE id = ?", file_id, job_id)

    async def forget_requests(self, before: datetime) -> int:
        """Clear what closed requests made before `before` kept to be run again (the prompt, the
        input and result files, the inline message); their ledger lines stay. How many."""
        cursor = await self._db.execute(
            "UPDATE requests SET job_prompt = NULL, file_ids = NULL, result_file_id = NULL, "
            f"inline_message_id = NULL WHERE created_at < ? AND NOT ({_OPEN}) AND "
            "(job_prompt IS NOT NULL OR file_ids IS NOT NULL OR result_file_id IS NOT NULL)",
            (_timestamp(before),),
        )
        return cursor.rowcount

    async def close_request(self, closing: Closing) -> None:
        await self._write(
            "UPDATE requests SET outcome = ?, cost_usd = ?, cost_estimated = ?, latency_ms = ?, "
            "finished_at = ? WHERE id = ?",
            closing.outcome.value,
            closing.cost_usd,
            int(closing.estimated),
            closing.latency_ms,
            _timestamp(datetime.now(UTC)),
            closing.job_id,
        )

    async def spend(self, user_id: int, since: datetime, *, free_only: bool = False) -> Spend:
        """What the user used since `since`; `free_only`: of their free allowance only."""
        free = f" AND {_FREE}" if free_only else ""
        return await self._spend(f"user_id = ?{free}", user_id, since)

    async def chat_spend(self, chat_id: int, since: datetime) -> Spend:
        """What a group's members used of its free allowance since `since`."""
        return await self._spend(f"chat_id = ? AND {_FREE}", chat_id, since)

    async def _spend(self, where: str, subject_id: int, since: datetime) -> Spend:
        [(images, cost, estimated)] = await self._rows(
            "SELECT COALESCE(SUM(images), 0), COALESCE(SUM(cost_usd), 0), "
            "COALESCE(MAX(cost_estimated), 0) "
            f"FROM requests WHERE {where} AND created_at >= ? AND {_COUNTED}",
            subject_id,
            _timestamp(since),
        )
        return Spend(images=images, cost_usd=cost, estimated=bool(estimated))

    async def daily_totals(self, since: datetime) -> list[DayTotals]:
        rows = await self._rows(
            f"SELECT date(created_at), SUM(outcome = '{Outcome.OK}'), "
            f"SUM({_FAILED}), SUM(CASE WHEN outcome = '{Outcome.OK}' "
            "THEN cost_usd ELSE 0 END) FROM requests WHERE created_at >= ? "
            "GROUP BY 1 ORDER BY 1 DESC",
            _timestamp(since),
        )
        return [DayTotals(*row) for row in rows]

    async def top_users(self, since: datetime, limit: int) -> list[UserTotals]:
        rows = await self._rows(
            "SELECT user_id, SUM(images), SUM(cost_usd) FROM requests "
            f"WHERE created_at >= ? AND outcome = '{Outcome.OK}' AND user_id IS NOT NULL "
            "GROUP BY user_id ORDER BY 3 DESC, 2 DESC LIMIT ?",
            _timestamp(since),
            limit,
        )
        return [UserTotals(*row) for row in rows]

    async def failures_by_kind(self, since: datetime) -> list[tuple[str, int]]:
        rows = await self._rows(
            "SELECT outcome, COUNT(*) FROM requests "
            f"WHERE created_at >= ? AND {_FAILED} "
            "GROUP BY outcome ORDER BY 2 DESC, 1",
            _timestamp(since),
        )
        return [(kind, count) for kind, count in rows]

    # ---- operated from Telegram ----------------------------------------------------------------
    async def access_rules(self) -> dict[int, bool]:
        rows = await self._rows("SELECT subject_id, allowed FROM access_rules")
        return {subject: bool(allowed) for subject, allowed in rows}

    async def set_access(self, subject_id: int, allowed: bool) -> None:
        await self._write(
            "INSERT INTO access_rules (subject_id, allowed) VALUES (?, ?) ON CONFLICT(subject_id) "
            "DO UPDATE SET allowed = excluded.allowed, updated_at = datetime('now')",
            subject_id,
            int(allowed),
        )

    async def limits(self) -> dict[int, Limits]:
        rows = await self._rows("SELECT subject_id, daily_images, monthly_budget_usd FROM limits")
        return {subject: Limits(daily, budget) for subject, daily, budget in rows}

    async def set_limits(self, subject_id: int, limits: Limits) -> None:
        await self._write(
            "INSERT INTO limits (subject_id, daily_images, monthly_budget_usd) VALUES (?, ?, ?) "
            "ON CONFLICT(subject_id) DO UPDATE SET daily_images = excluded.daily_images, "
            "monthly_budget_usd = excluded.monthly_budget_usd, updated_at = datetime('now')",
            subject_id,
            limits.daily_images,
            limits.monthly_budget_usd,
        )

    async def audit(self, admin_id: int, action: str, subject_id: int | None, value: str) -> None:
        await self._write(
            "INSERT INTO audit (at, admin_id, action, subject_id, value) VALUES (?, ?, ?, ?, ?)",
            _timestamp(datetime.now(UTC)),
            admin_id,
            action,
            subject_id,
            value,
        )

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        """The latest `limit` changes, newest first."""
        rows = await self._rows(
            "SELECT at, admin_id, action, subject_id, value FROM audit ORDER BY id DESC LIMIT ?",
            limit,
        )
        return [AuditEntry(_parse_timestamp(at), *rest) for at, *rest in rows]

    async def credits(self, user_id: int) -> int:
        rows = await self._rows("SELECT balance FROM credits WHERE user_id = ?", user_id)
        return int(rows[0][0]) if rows else 0

    async def add_payment(self, payment: Payment) -> bool:
        """Record a payment and credit it (the trigger `payment_credits`); False if this charge
        was recorded before, and then nothing changes."""
        cursor = await self._db.execute(
            "INSERT OR IGNORE INTO payments (charge_id, user_id, credits, stars) "
            "VALUES (?, ?, ?, ?)",
            (payment.charge_id, payment.user_id, payment.credits, payment.stars),
        )
        return cursor.rowcount == 1

    async def payment(self, charge_id: str) -> Payment | None:
        rows = await self._rows(
            "SELECT charge_id, user_id, credits, stars, refunded_at IS NOT NULL FROM payments "
            "WHERE charge_id = ?",
            charge_id,
        )
        if not rows:
            return None
        charge, user_id, credits, stars, refunded = rows[0]
        return Payment(charge, user_id, credits, stars, refunded=bool(refunded))

    async def refund_payment(self, charge_id: str) -> bool:
        """Mark a payment refunded and take back its unused credits (the trigger
        `refund_debits`); False if it was already refunded or never recorded."""
        cursor = await self._db.execute(
            "UPDATE payments SET refunded_at = datetime('now') "
            "WHERE charge_id = ? AND refunded_at IS NULL",
            (charge_id,),
        )
        return cursor.rowcount == 1

    async def ping(self) -> None:
        """Raises unless the database takes a write."""
        await self._write("INSERT OR REPLACE INTO heartbeat (id, at) VALUES (1, datetime('now'))")

    async def close(self) -> None:
        await self._db.close()


def _job(row: Any) -> Job:
    (job_id, chat_id, user_id, message_id, in_group, prompt, model, ratio, size, inputs,
     output_format, file_ids, cost, outcome, created_at, note_id, upstream_sent,
     funding, images, enlarge, inline_message_id, result_file_id) = row  # fmt: skip
    return Job(
        id=job_id,
        who=Requester(user_id, chat_id, message_id, bool(in_group)),
        order=Order(prompt or "", model, ratio, size, inputs),
        output_format=output_format,
        file_ids=tuple(json.loads(file_ids or "[]")),
        estimated_cost_usd=cost,
        outcome=Outcome(outcome),
        created_at=_parse_timestamp(created_at),
        note_id=note_id,
        upstream_sent=bool(upstream_sent),
        funding=Funding(funding),
        options=JobOptions(images, bool(enlarge), inline_message_id),
        result_file_id=result_file_id,
    )


def _parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
