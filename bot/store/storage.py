"""The bot's records: per-chat preferences, the request ledger that is also the job queue, and
what admins change from Telegram; written once in SQL that SQLite and PostgreSQL both run."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.domain import Funding, Order, Outcome
from bot.jobs.model import Closing, Job, JobOptions, NewJob, Requester, Transform, Words
from bot.store.drivers import (
    CheckViolated,
    Database,
    DatabaseError,
    Listener,
    Migration,
    open_database,
)

StorageError = DatabaseError


@dataclass(frozen=True, slots=True)
class ChatPreferences:
    """What a chat chose; None means "the operator's default"."""

    aspect_ratio: str | None = None
    image_size: str | None = None
    model: str | None = None
    output_format: str | None = None
    conversation: str | None = None  # a bot.conversation.Mode


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


@dataclass(frozen=True, slots=True)
class AlbumItem:
    """One message of an album, as any replica may have received it."""

    message_id: int
    message: str  # the message as Telegram's JSON


@dataclass(frozen=True, slots=True)
class ChosenPreset:
    """A preset a user picked from /presets, waiting for their next prompt in that chat."""

    source: str  # bot.presets.PresetSource
    name: str


@dataclass(frozen=True, slots=True)
class StickerSetState:
    """The sticker set the bot adds a user's stickers to: its number (the first is 1) and how
    many stickers the bot has put in it."""

    number: int
    stickers: int


@dataclass(frozen=True, slots=True)
class RemixPrompt:
    """A Remix tap's question in a chat: its reply from `user_id` remixes `job_id`'s picture."""

    chat_id: int
    message_id: int
    job_id: int
    user_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PastResult:
    """One of a user's delivered pictures, for /history."""

    job_id: int
    prompt: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PictureRef:
    """A saved reference: a picture its owner (a user, or a group: a negative id) named."""

    id: int
    owner_id: int
    name: str
    file_id: str
    photo: bool  # sent as a photo, else as an image file


class CreditsExhausted(Exception):
    """A job to be paid with a credit found none left (an admin's refund came in between)."""


class Storage(Protocol):
    """What the bot needs from its database, whichever it is."""

    where: str  # the database, fit for a log line
    exclusive: bool  # one process only (SQLite): every job in it is this process's

    async def listen(self, channel: str, listener: Listener) -> None:
        """Call `listener(payload)` on each `notify` on `channel`, from any replica."""
        ...

    async def notify(self, channel: str, payload: str = "") -> None: ...

    async def hold_polling(self) -> bool: ...

    def serialized(self, *subjects: int) -> AbstractAsyncContextManager[Storage]:
        """Storage inside a transaction that no one else holding any of `subjects` (users,
        chats) shares, in any replica: what is read there cannot change before it is written."""
        ...

    async def preferences(self, chat_id: int) -> ChatPreferences: ...

    async def update_preferences(self, chat_id: int, **values: str | None) -> None: ...

    # ---- jobs --------------------------------------------------------------------------------
    async def open_job(self, job: NewJob) -> int: ...

    async def job(self, job_id: int) -> Job | None: ...

    async def open_job_ids(self, chat_id: int, user_id: int | None) -> list[int]: ...

    async def in_flight(self, user_id: int | None) -> int: ...

    async def queue(self, limit: int) -> list[int]: ...

    async def claim(
        self, worker: str, lease_until: datetime, cap: int, up_to: int = 1
    ) -> list[Job]: ...

    async def upstream_sent(self, job_id: int, attempt: int) -> bool: ...

    async def slot_released(self, job_id: int, attempt: int) -> None: ...

    async def renew(self, worker: str, lease_until: datetime) -> list[tuple[int, int]]: ...

    async def keep(self, job_id: int, attempt: int, lease_until: datetime) -> bool: ...

    async def take_over(
        self, worker: str, lease_until: datetime, expired_before: datetime, *, own: bool
    ) -> list[Job]: ...

    async def requeue(self, job_id: int, attempt: int) -> None: ...

    async def take_queued(self, job_id: int, worker: str) -> Job | None: ...

    async def request_stop(self, job_id: int, reason: Outcome) -> bool | None: ...

    async def stops(self, worker: str) -> list[tuple[int, Outcome]]: ...

    async def set_note(self, job_id: int, note_id: int) -> bool: ...

    async def set_result(
        self,
        job_id: int,
        attempt: int,
        file_id: str,
        message_id: int | None = None,
        reasoning: str | None = None,
    ) -> None: ...

    async def result_job(self, chat_id: int, message_id: int) -> Job | None: ...

    async def thread_head(self, chat_id: int) -> Job | None: ...

    async def new_thread(self, chat_id: int) -> None: ...

    # ---- saved references --------------------------------------------------------------------
    async def save_ref(self, ref: PictureRef, most: int) -> bool: ...

    async def refs(self, *owner_ids: int) -> list[PictureRef]: ...

    async def ref(self, ref_id: int) -> PictureRef | None: ...

    async def delete_ref(self, ref_id: int) -> bool: ...

    async def share_avatar(self, user_id: int, username: str | None, shared: bool) -> None: ...

    async def shared_avatar(self, username: str) -> int | None: ...

    async def forget_requests(self, before: datetime) -> int: ...

    async def add_remix_prompt(self, prompt: RemixPrompt) -> None: ...

    async def past_results(
        self, chat_id: int, user_id: int, since: datetime, limit: int, offset: int = 0
    ) -> list[PastResult]: ...

    async def past_results_count(self, chat_id: int, user_id: int, since: datetime) -> int: ...

    async def forgotten_results(self, chat_id: int, user_id: int, before: datetime) -> int: ...

    async def remix_prompt(self, chat_id: int, message_id: int) -> RemixPrompt | None: ...

    async def close_request(self, closing: Closing) -> bool: ...

    # ---- replicas ----------------------------------------------------------------------------
    async def seen_update(self, update_id: int) -> bool: ...

    async def first_sight(self, update_id: int, now: datetime) -> bool: ...

    async def forget_updates(self, before: datetime) -> None: ...

    async def add_album_item(
        self, chat_id: int, group: str, item: AlbumItem, at: float
    ) -> None: ...

    async def take_album(
        self, chat_id: int, group: str, quiet_since: float
    ) -> list[AlbumItem] | None: ...

    async def cooldown(self, chat_id: int, user_id: int) -> float | None: ...

    async def set_cooldown(self, chat_id: int, user_id: int, at: float) -> None: ...

    # ---- the ledger --------------------------------------------------------------------------
    async def spend(self, user_id: int, since: datetime, *, free_only: bool = False) -> Spend: ...

    async def ping(self) -> None: ...

    async def daily_totals(self, since: datetime) -> list[DayTotals]: ...

    async def top_users(self, since: datetime, limit: int) -> list[UserTotals]: ...

    async def failures_by_kind(self, since: datetime) -> list[tuple[str, int]]: ...

    async def chat_spend(self, chat_id: int, since: datetime) -> Spend: ...

    # ---- operated from Telegram --------------------------------------------------------------
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

    async def language(self, user_id: int) -> str | None: ...

    async def set_language(self, user_id: int, language: str | None) -> None: ...

    # ---- presets and stickers ----------------------------------------------------------------
    async def presets(self, owner_id: int) -> dict[str, str]: ...

    async def set_preset(self, owner_id: int, name: str, template: str) -> None: ...

    async def delete_preset(self, owner_id: int, name: str) -> bool: ...

    async def choose_preset(self, chat_id: int, user_id: int, chosen: ChosenPreset) -> None: ...

    async def take_chosen_preset(self, chat_id: int, user_id: int) -> ChosenPreset | None: ...

    async def sticker_set(self, user_id: int) -> StickerSetState | None: ...

    async def set_sticker_set(self, user_id: int, state: StickerSetState) -> None: ...

    async def close(self) -> None: ...


# PostgreSQL's versions of the credit triggers in migration 6 (its triggers call functions).
_POSTGRES_CREDITS = (
    """
    CREATE FUNCTION payment_credits() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO credits (user_id, balance) VALUES (NEW.user_id, NEW.credits)
        ON CONFLICT (user_id) DO UPDATE SET balance = credits.balance + NEW.credits;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER payment_credits AFTER INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION payment_credits()
    """,
    """
    CREATE FUNCTION refund_debits() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        UPDATE credits SET balance = GREATEST(0, balance - NEW.credits)
        WHERE user_id = NEW.user_id;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER refund_debits AFTER UPDATE OF refunded_at ON payments
    FOR EACH ROW WHEN (OLD.refunded_at IS NULL AND NEW.refunded_at IS NOT NULL)
    EXECUTE FUNCTION refund_debits()
    """,
    # The row lock on the balance makes two replicas' credit jobs take one credit each, or fail.
    """
    CREATE FUNCTION job_charges_credit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        UPDATE credits SET balance = balance - 1 WHERE user_id = NEW.user_id AND balance >= 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no credits left';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER job_charges_credit BEFORE INSERT ON requests
    FOR EACH ROW WHEN (NEW.funding = 'credit') EXECUTE FUNCTION job_charges_credit()
    """,
    """
    CREATE FUNCTION job_returns_credit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        UPDATE credits SET balance = balance + 1 WHERE user_id = NEW.user_id;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER job_returns_credit AFTER UPDATE OF outcome ON requests
    FOR EACH ROW WHEN (NEW.funding = 'credit' AND OLD.outcome IN ('queued', 'running')
        AND NEW.outcome NOT IN ('ok', 'queued', 'running'))
    EXECUTE FUNCTION job_returns_credit()
    """,
)

# Each entry moves the schema one version up; existing databases replay only what they lack.
_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        common=(
            """
            CREATE TABLE chat_preferences (
                chat_id      INTEGER PRIMARY KEY,
                aspect_ratio TEXT,
                image_size   TEXT,
                updated_at   TEXT NOT NULL DEFAULT (datetime('now'))
            )
            """,
        ),
    ),
    Migration(
        common=(
            "ALTER TABLE chat_preferences ADD COLUMN model TEXT",
            "ALTER TABLE chat_preferences ADD COLUMN output_format TEXT",
        ),
    ),
    Migration(
        common=(
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
    ),
    Migration(
        common=(
            # One row, rewritten by each health check: proof that the database takes writes.
            "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL)",
        ),
    ),
    Migration(
        common=(
            # A request is a durable job until it is answered: what it takes to carry it out after a
            # restart. `job_prompt` and `file_ids` are kept while it is open (and, since the result
            # buttons, until REQUEST_RETENTION_DAYS).
            "ALTER TABLE requests ADD COLUMN in_group INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE requests ADD COLUMN inputs INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE requests ADD COLUMN output_format TEXT NOT NULL DEFAULT 'photo'",
            "ALTER TABLE requests ADD COLUMN file_ids TEXT",
            "ALTER TABLE requests ADD COLUMN job_prompt TEXT",
            "ALTER TABLE requests ADD COLUMN note_id INTEGER",
            "ALTER TABLE requests ADD COLUMN upstream_sent INTEGER NOT NULL DEFAULT 0",
            # Requests an earlier version left open were running upstream: answered as
            # interrupted.
            "UPDATE requests SET outcome = 'running', upstream_sent = 1 WHERE outcome = 'pending'",
            "CREATE INDEX requests_open ON requests (chat_id) "
            "WHERE outcome IN ('queued', 'running')",
        ),
    ),
    Migration(
        common=(
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
            # Telegram Stars: a balance of image credits per user, and the payments that bought
            # them.
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
        ),
        sqlite=(
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
        postgres=_POSTGRES_CREDITS,
    ),
    Migration(
        common=(
            # The job queue, shared by replicas. `turn` orders it fairly: a chat's jobs take
            # consecutive turns from the round being served, so chats take turns.
            "ALTER TABLE requests ADD COLUMN turn INTEGER NOT NULL DEFAULT 0",
            # The replica running a job, until when (it renews the lease while alive), whether
            # the job still holds a generation slot, and a stop asked by another replica.
            "ALTER TABLE requests ADD COLUMN worker TEXT",
            "ALTER TABLE requests ADD COLUMN lease_until TEXT",
            "ALTER TABLE requests ADD COLUMN generating INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE requests ADD COLUMN stop TEXT",
            "CREATE INDEX requests_queue ON requests (turn, id) WHERE outcome = 'queued'",
            """
            CREATE INDEX requests_in_flight ON requests (user_id)
            WHERE outcome = 'queued' OR (outcome = 'running' AND generating = 1)
            """,
            # Telegram redelivers a webhook update it got no answer for: each is handled once.
            """
            CREATE TABLE seen_updates (
                update_id INTEGER PRIMARY KEY,
                seen_at   TEXT NOT NULL
            )
            """,
            "CREATE INDEX seen_updates_by_time ON seen_updates (seen_at)",
            # An album's messages, which may reach different replicas, gathered into one request.
            """
            CREATE TABLE album_items (
                chat_id        INTEGER NOT NULL,
                media_group_id TEXT NOT NULL,
                message_id     INTEGER NOT NULL,
                message        TEXT NOT NULL,
                added_at       REAL NOT NULL,
                PRIMARY KEY (chat_id, media_group_id, message_id)
            )
            """,
        ),
    ),
    Migration(
        common=(
            # The language a user chose with /language (no row: their Telegram app's), and the
            # one a job answers in, read by the worker long after the update.
            "CREATE TABLE user_languages (user_id INTEGER PRIMARY KEY, language TEXT NOT NULL)",
            "ALTER TABLE requests ADD COLUMN language TEXT NOT NULL DEFAULT 'en'",
        ),
    ),
    Migration(
        common=(
            # A closed request stays a job that a result button can run again, until
            # REQUEST_RETENTION_DAYS clear its prompt, inputs and result (forget_requests).
            # `images`: the pictures it makes (x4 makes four), what quotas and totals count.
            "ALTER TABLE requests ADD COLUMN images INTEGER NOT NULL DEFAULT 1",
            # The input is a result, to be made larger and otherwise unchanged.
            "ALTER TABLE requests ADD COLUMN enlarge INTEGER NOT NULL DEFAULT 0",
            # Inline mode: the message the picture goes into, instead of a reply in `chat_id`.
            "ALTER TABLE requests ADD COLUMN inline_message_id TEXT",
            "ALTER TABLE requests ADD COLUMN result_file_id TEXT",
        ),
    ),
    Migration(
        common=(
            # Prompt templates with {text}: a user's own (owner: the user's id) or a group's
            # (owner: the chat's negative id, set by its admins); names are stored lower-case.
            """
            CREATE TABLE presets (
                owner_id INTEGER NOT NULL,
                name     TEXT NOT NULL,
                template TEXT NOT NULL,
                PRIMARY KEY (owner_id, name)
            )
            """,
            # A preset tapped in /presets, for the user's next prompt in that chat (any replica
            # may receive it).
            """
            CREATE TABLE chosen_presets (
                chat_id INTEGER NOT NULL,
                user_id INTEGER NOT NULL,
                source  TEXT NOT NULL,
                name    TEXT NOT NULL,
                PRIMARY KEY (chat_id, user_id)
            )
            """,
            # The sticker set the bot is filling for a user; a full one is followed by the next.
            """
            CREATE TABLE sticker_sets (
                user_id  INTEGER PRIMARY KEY,
                number   INTEGER NOT NULL,
                stickers INTEGER NOT NULL
            )
            """,
        ),
    ),
    Migration(
        common=(
            # Why a request ended without a picture (bot.domain.NoPictureReason), and what Eden
            # charged for it all the same: the operator's cost, apart from the user's `cost_usd`.
            "ALTER TABLE requests ADD COLUMN no_picture_reason TEXT",
            "ALTER TABLE requests ADD COLUMN unbilled_cost_usd REAL NOT NULL DEFAULT 0",
        ),
    ),
    Migration(
        common=(
            # The fencing token of a job's run: each claim or take-over counts one up, and every
            # write of a run names the attempt it was given, so a run another replica took over
            # (a paused process, a lease that ran out) can no longer change, answer or charge it.
            "ALTER TABLE requests ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0",
            # When a member's last request in a group was accepted (GROUP_COOLDOWN_SECONDS), in
            # seconds since the epoch: shared by the replicas like the other limits.
            """
            CREATE TABLE group_cooldowns (
                chat_id     INTEGER NOT NULL,
                user_id     INTEGER NOT NULL,
                accepted_at REAL NOT NULL,
                PRIMARY KEY (chat_id, user_id)
            )
            """,
        ),
        sqlite=(
            # A credit job cancelled once its upstream call was made is paid: no credit back;
            # nor one whose credit a refund took back while it ran (funding 'refunded').
            "DROP TRIGGER job_returns_credit",
            """
            CREATE TRIGGER job_returns_credit AFTER UPDATE OF outcome ON requests
            WHEN NEW.funding = 'credit' AND OLD.outcome IN ('queued', 'running')
                AND NEW.outcome NOT IN ('ok', 'queued', 'running')
                AND NOT (NEW.outcome = 'cancelled' AND NEW.upstream_sent = 1) BEGIN
                UPDATE credits SET balance = balance + 1 WHERE user_id = NEW.user_id;
            END
            """,
            # A refund takes back what is left of the credits bought; those it cannot take back
            # because open jobs hold them are taken from those jobs, which then give none back.
            "DROP TRIGGER refund_debits",
            """
            CREATE TRIGGER refund_debits AFTER UPDATE OF refunded_at ON payments
            WHEN OLD.refunded_at IS NULL AND NEW.refunded_at IS NOT NULL BEGIN
                UPDATE requests SET funding = 'refunded' WHERE id IN (
                    SELECT id FROM requests WHERE user_id = NEW.user_id AND funding = 'credit'
                    AND outcome IN ('queued', 'running') ORDER BY id
                    LIMIT MAX(0, NEW.credits - COALESCE(
                        (SELECT balance FROM credits WHERE user_id = NEW.user_id), 0)));
                UPDATE credits SET balance = MAX(0, balance - NEW.credits)
                WHERE user_id = NEW.user_id;
            END
            """,
        ),
        postgres=(
            "DROP TRIGGER job_returns_credit ON requests",
            """
            CREATE TRIGGER job_returns_credit AFTER UPDATE OF outcome ON requests
            FOR EACH ROW WHEN (NEW.funding = 'credit' AND OLD.outcome IN ('queued', 'running')
                AND NEW.outcome NOT IN ('ok', 'queued', 'running')
                AND NOT (NEW.outcome = 'cancelled' AND NEW.upstream_sent = 1))
            EXECUTE FUNCTION job_returns_credit()
            """,
            """
            CREATE OR REPLACE FUNCTION refund_debits() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE requests SET funding = 'refunded' WHERE id IN (
                    SELECT id FROM requests WHERE user_id = NEW.user_id AND funding = 'credit'
                    AND outcome IN ('queued', 'running') ORDER BY id
                    LIMIT GREATEST(0, NEW.credits - COALESCE(
                        (SELECT balance FROM credits WHERE user_id = NEW.user_id), 0)));
                UPDATE credits SET balance = GREATEST(0, balance - NEW.credits)
                WHERE user_id = NEW.user_id;
                RETURN NEW;
            END $$
            """,
        ),
    ),
    Migration(
        common=(
            # What a studio button does to its input, a result (bot/jobs/model.py Transform).
            "ALTER TABLE requests ADD COLUMN transform TEXT",
            # A Remix tap's question (a ForceReply message), awaiting its answer: the reply to it
            # is the new instruction for `job_id`'s picture, from `user_id`.
            """
            CREATE TABLE remix_prompts (
                chat_id    INTEGER NOT NULL,
                message_id INTEGER NOT NULL,
                job_id     INTEGER NOT NULL,
                user_id    INTEGER NOT NULL,
                created_at TEXT NOT NULL,
                PRIMARY KEY (chat_id, message_id)
            )
            """,
            # /history: a user's results in a chat, newest first.
            "CREATE INDEX requests_results ON requests (chat_id, user_id, id) "
            "WHERE result_file_id IS NOT NULL",
        ),
    ),
    Migration(
        common=(
            # Conversations: a request that continues a thread names the job it continues, and
            # which turn it is; `conversation`: made in /mode chat. The result's message is
            # what a reply names. Threads live on the requests' own prompt and files, so they
            # share their retention.
            "ALTER TABLE requests ADD COLUMN parent_id INTEGER",
            "ALTER TABLE requests ADD COLUMN thread_turn INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE requests ADD COLUMN conversation INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE requests ADD COLUMN result_message_id INTEGER",
            "ALTER TABLE requests ADD COLUMN result_reasoning TEXT",
            "CREATE INDEX requests_by_result ON requests (chat_id, result_message_id) "
            "WHERE result_message_id IS NOT NULL",
            # A chat's mode (single or chat), and the last request before its thread began:
            # /new and the "New" button move it on.
            "ALTER TABLE chat_preferences ADD COLUMN conversation TEXT",
            "ALTER TABLE chat_preferences ADD COLUMN thread_from INTEGER NOT NULL DEFAULT 0",
            # Saved references: a user's (owner_id > 0) or a group's (owner_id < 0) pictures
            # by name, kept as Telegram `file_id`s until their owner deletes them.
            """
            CREATE TABLE picture_refs (
                id       INTEGER PRIMARY KEY,
                owner_id INTEGER NOT NULL,
                name     TEXT NOT NULL,
                file_id  TEXT NOT NULL,
                photo    INTEGER NOT NULL,
                saved_at TEXT NOT NULL,
                UNIQUE (owner_id, name)
            )
            """,
            # Users who let others attach their profile photo, by their @username then.
            """
            CREATE TABLE shared_avatars (
                user_id  INTEGER PRIMARY KEY,
                username TEXT
            )
            """,
            "CREATE INDEX shared_avatars_by_name ON shared_avatars (username)",
        ),
    ),
)

# The ledger's kinds of text jobs (the others are pictures: generate, edit).
_WORDS = {words.value for words in Words}
# A delivered picture of (chat_id, user_id) made since a moment, still kept: /history's entries.
_PAST_RESULT = (
    "chat_id = ? AND user_id = ? AND result_file_id IS NOT NULL AND job_prompt IS NOT NULL "
    f"AND outcome = '{Outcome.OK}' AND created_at >= ?"
)
_PREFERENCES = tuple(f.name for f in dataclasses.fields(ChatPreferences))
_OPEN = f"outcome IN ('{Outcome.QUEUED}', '{Outcome.RUNNING}')"
# Requests that used (or may still use) the user's allowance.
# A request cancelled once its upstream call was made is paid like one that ended OK.
_COUNTED = (
    f"(outcome IN ('{Outcome.OK}', '{Outcome.QUEUED}', '{Outcome.RUNNING}') "
    f"OR (outcome = '{Outcome.CANCELLED}' AND upstream_sent = 1))"
)
# Requests paid from the free allowance: credit-funded ones use none of it.
_FREE = f"funding = '{Funding.FREE}'"
_FAILED = f"outcome NOT IN ('{Outcome.OK}', '{Outcome.QUEUED}', '{Outcome.RUNNING}')"
# A user's requests in flight: waiting, or holding a generation slot (once the picture is made,
# its upload does not keep the user's next request waiting).
_IN_FLIGHT = f"(outcome = '{Outcome.QUEUED}' OR (outcome = '{Outcome.RUNNING}' AND generating = 1))"
_JOB_COLUMNS = (
    "id, chat_id, user_id, message_id, in_group, job_prompt, model, aspect_ratio, image_size, "
    "inputs, output_format, file_ids, cost_usd, outcome, created_at, note_id, upstream_sent, "
    "funding, language, images, enlarge, inline_message_id, result_file_id, attempt, transform, "
    "kind, parent_id, thread_turn, conversation, result_reasoning"
)
# A run's writes: the job is still open and still in the run that `attempt` names.
_FENCED = f"id = ? AND attempt = ? AND {_OPEN}"
# A new job's turn: the round being served, or one after its chat's last open job.
_TURN = (
    f"GREATEST(COALESCE((SELECT MIN(turn) FROM requests WHERE outcome = '{Outcome.QUEUED}'), 0), "
    f"COALESCE((SELECT MAX(turn) + 1 FROM requests WHERE chat_id = ? AND {_OPEN}), 0))"
)


def _timestamp(moment: datetime) -> str:
    """UTC as text, in SQLite's own format: its date functions and comparisons work on it, and
    PostgreSQL compares it alike."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _now() -> str:
    return _timestamp(datetime.now(UTC))


class SqlStorage:
    """The bot's storage on either database; `await open_storage(...)` opens it migrated."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.where = str(db)
        self.exclusive = db.exclusive

    async def listen(self, channel: str, listener: Listener) -> None:
        await self._db.listen(channel, listener)

    async def notify(self, channel: str, payload: str = "") -> None:
        await self._db.notify(channel, payload)

    async def hold_polling(self) -> bool:
        """Take the lock only one polling replica may hold; False if another holds it."""
        return await self._db.hold_polling()

    @asynccontextmanager
    async def serialized(self, *subjects: int) -> AsyncIterator[SqlStorage]:
        async with self._db.serialized(*subjects) as db:
            yield SqlStorage(db)

    async def _rows(self, sql: str, *params: Any) -> list[Sequence[Any]]:
        return await self._db.fetch(sql, *params)

    async def _write(self, sql: str, *params: Any) -> None:
        await self._db.execute(sql, *params)

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
            f"INSERT INTO chat_preferences (chat_id, {columns}, updated_at) "
            f"VALUES (?, {placeholders}, ?) "
            f"ON CONFLICT (chat_id) DO UPDATE SET {assignments}, updated_at = excluded.updated_at",
            chat_id,
            *values.values(),
            _now(),
        )

    # ---- jobs --------------------------------------------------------------------------------
    async def open_job(self, job: NewJob) -> int:
        """Write a job down at the back of its turn; CreditsExhausted if it is to be paid with a
        credit and none is left."""
        who, order = job.who, job.order
        try:
            [(job_id,)] = await self._rows(
                "INSERT INTO requests (created_at, chat_id, user_id, message_id, in_group, kind, "
                "model, aspect_ratio, image_size, inputs, output_format, file_ids, cost_usd, "
                "outcome, job_prompt, prompt, funding, language, images, enlarge, "
                "inline_message_id, transform, parent_id, thread_turn, conversation, turn) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, "
                f"{_TURN}) "
                "RETURNING id",
                _timestamp(job.created_at),
                who.chat_id,
                who.user_id,
                who.message_id,
                int(who.in_group),
                (job.options.words or order.kind).value,
                order.model,
                order.aspect_ratio,
                order.image_size,
                order.inputs,
                job.output_format,
                json.dumps(job.file_ids),
                float(job.estimated_cost_usd),
                Outcome.QUEUED.value,
                order.prompt,
                order.prompt if job.keep_prompt else None,
                job.funding.value,
                who.language,
                job.options.images,
                int(job.options.enlarge),
                job.options.inline_message_id,
                job.options.transform and job.options.transform.value,
                job.options.parent_id,
                job.options.thread_turn,
                int(job.options.conversation),
                who.chat_id,
            )
        except CheckViolated as exc:
            if "no credits left" in str(exc):
                raise CreditsExhausted(str(exc)) from exc
            raise
        return int(job_id)

    async def job(self, job_id: int) -> Job | None:
        rows = await self._rows(f"SELECT {_JOB_COLUMNS} FROM requests WHERE id = ?", job_id)
        return _job(rows[0]) if rows else None

    async def open_job_ids(self, chat_id: int, user_id: int | None) -> list[int]:
        rows = await self._rows(
            "SELECT id FROM requests WHERE chat_id = ? AND user_id IS NOT DISTINCT FROM ? "
            f"AND {_OPEN} ORDER BY id",
            chat_id,
            user_id,
        )
        return [job_id for (job_id,) in rows]

    async def in_flight(self, user_id: int | None) -> int:
        """The user's requests in flight (USER_MAX_IN_FLIGHT counts requests: a x4 is one job,
        holding one generation slot, though quotas count its four images)."""
        [(count,)] = await self._rows(
            f"SELECT COUNT(*) FROM requests WHERE user_id IS NOT DISTINCT FROM ? AND {_IN_FLIGHT}",
            user_id,
        )
        return int(count)

    async def queue(self, limit: int) -> list[int]:
        """The first `limit` waiting jobs, in the order they will be served."""
        rows = await self._rows(
            f"SELECT id FROM requests WHERE outcome = '{Outcome.QUEUED}' ORDER BY turn, id LIMIT ?",
            limit,
        )
        return [job_id for (job_id,) in rows]

    async def claim(
        self, worker: str, lease_until: datetime, cap: int, up_to: int = 1
    ) -> list[Job]:
        """Take up to `up_to` next jobs in fair order for `worker`, as long as fewer than `cap`
        jobs then hold a generation slot (in all replicas). A job without input images goes
        upstream right after this, so it is marked as sent here and needs no second write: only
        a crash in between would answer it as interrupted rather than run it again."""
        async with self._db.claiming() as db:
            rows = await db.fetch(
                f"UPDATE requests SET outcome = '{Outcome.RUNNING}', generating = 1, worker = ?, "
                "lease_until = ?, stop = NULL, attempt = attempt + 1, "
                "upstream_sent = CASE WHEN inputs = 0 THEN 1 ELSE 0 END "
                "WHERE id IN (SELECT id FROM requests "
                f"WHERE outcome = '{Outcome.QUEUED}' ORDER BY turn, id "
                "LIMIT LEAST(?, GREATEST(0, ? - (SELECT COUNT(*) FROM requests "
                f"WHERE outcome = '{Outcome.RUNNING}' AND generating = 1))) "
                "FOR UPDATE SKIP LOCKED) "
                f"RETURNING {_JOB_COLUMNS}",
                worker,
                _timestamp(lease_until),
                up_to,
                cap,
            )
        return sorted((_job(row) for row in rows), key=lambda job: job.id)

    async def upstream_sent(self, job_id: int, attempt: int) -> bool:
        """Note that the run `attempt` of the job is about to call upstream; False if that run
        is no longer the job's (another replica took it over): it must not call."""
        rows = await self._rows(
            f"UPDATE requests SET upstream_sent = 1 WHERE {_FENCED} RETURNING id", job_id, attempt
        )
        return bool(rows)

    async def slot_released(self, job_id: int, attempt: int) -> None:
        await self._write(f"UPDATE requests SET generating = 0 WHERE {_FENCED}", job_id, attempt)

    async def renew(self, worker: str, lease_until: datetime) -> list[tuple[int, int]]:
        """Renew the leases of `worker`'s running jobs; the (job id, attempt) of each, so that a
        run missing from them knows it was taken over."""
        rows = await self._rows(
            "UPDATE requests SET lease_until = ? "
            f"WHERE worker = ? AND outcome = '{Outcome.RUNNING}' RETURNING id, attempt",
            _timestamp(lease_until),
            worker,
        )
        return [(int(job_id), int(attempt)) for job_id, attempt in rows]

    async def keep(self, job_id: int, attempt: int, lease_until: datetime) -> bool:
        """Renew one run's lease, as the proof that it is still the job's before it answers;
        False if another replica took it over (or it was closed)."""
        rows = await self._rows(
            f"UPDATE requests SET lease_until = ? WHERE {_FENCED} "
            f"AND outcome = '{Outcome.RUNNING}' RETURNING id",
            _timestamp(lease_until),
            job_id,
            attempt,
        )
        return bool(rows)

    async def take_over(
        self, worker: str, lease_until: datetime, expired_before: datetime, *, own: bool
    ) -> list[Job]:
        """Running jobs whose replica is gone (their lease ran out), now `worker`'s to answer or
        queue again. `own`: at start, this worker's too, from before a restart; otherwise its
        own are never touched (they run here: a late renewal must not free their slots)."""
        rows = await self._rows(
            "UPDATE requests SET worker = ?, lease_until = ?, generating = 0, "
            "attempt = attempt + 1 WHERE id IN (SELECT id FROM requests "
            f"WHERE outcome = '{Outcome.RUNNING}' AND ("
            "(? = 1 AND worker = ?) OR (worker IS DISTINCT FROM ? "
            "AND (lease_until IS NULL OR lease_until < ?))) "
            "FOR UPDATE SKIP LOCKED) "
            f"RETURNING {_JOB_COLUMNS}",
            worker,
            _timestamp(lease_until),
            int(own),
            worker,
            worker,
            _timestamp(expired_before),
        )
        return sorted((_job(row) for row in rows), key=lambda job: job.id)

    async def requeue(self, job_id: int, attempt: int) -> None:
        await self._write(
            f"UPDATE requests SET outcome = '{Outcome.QUEUED}', worker = NULL, generating = 0 "
            f"WHERE {_FENCED} AND upstream_sent = 0",
            job_id,
            attempt,
        )

    async def take_queued(self, job_id: int, worker: str) -> Job | None:
        """Take a waiting job out of the queue (to cancel it); None if it is not waiting."""
        rows = await self._rows(
            f"UPDATE requests SET outcome = '{Outcome.RUNNING}', worker = ?, generating = 0, "
            f"attempt = attempt + 1 WHERE id = ? AND outcome = '{Outcome.QUEUED}' "
            f"RETURNING {_JOB_COLUMNS}",
            worker,
            job_id,
        )
        return _job(rows[0]) if rows else None

    async def request_stop(self, job_id: int, reason: Outcome) -> bool | None:
        """Ask whichever replica runs `job_id` to stop it: whether its upstream call was made
        already; None if it is not running."""
        rows = await self._rows(
            f"UPDATE requests SET stop = ? WHERE id = ? AND outcome = '{Outcome.RUNNING}' "
            "RETURNING upstream_sent",
            reason.value,
            job_id,
        )
        return bool(rows[0][0]) if rows else None

    async def stops(self, worker: str) -> list[tuple[int, Outcome]]:
        rows = await self._rows(
            "SELECT id, stop FROM requests "
            f"WHERE worker = ? AND outcome = '{Outcome.RUNNING}' AND stop IS NOT NULL",
            worker,
        )
        return [(job_id, Outcome(stop)) for job_id, stop in rows]

    async def set_note(self, job_id: int, note_id: int) -> bool:
        """Remember a waiting job's queue note, for whoever answers it to delete; False if the
        job is no longer waiting (the note's sender deletes it then)."""
        rows = await self._rows(
            f"UPDATE requests SET note_id = ? WHERE id = ? AND outcome = '{Outcome.QUEUED}' "
            "RETURNING id",
            note_id,
            job_id,
        )
        return bool(rows)

    async def set_result(
        self,
        job_id: int,
        attempt: int,
        file_id: str,
        message_id: int | None = None,
        reasoning: str | None = None,
    ) -> None:
        """The delivered picture's `file_id` (the input of the result's "larger" button and of
        the turns after it), its message, which a reply continuing the thread names, and what
        the model sent with it to be sent back then; only by the run that holds the job."""
        await self._write(
            "UPDATE requests SET result_file_id = ?, result_message_id = ?, "
            f"result_reasoning = ? WHERE {_FENCED}",
            file_id,
            message_id,
            reasoning,
            job_id,
            attempt,
        )

    async def result_job(self, chat_id: int, message_id: int) -> Job | None:
        """The job whose result is that message of the chat, while it is kept."""
        rows = await self._rows(
            f"SELECT {_JOB_COLUMNS} FROM requests WHERE chat_id = ? AND result_message_id = ? "
            "AND job_prompt IS NOT NULL AND result_file_id IS NOT NULL",
            chat_id,
            message_id,
        )
        return _job(rows[0]) if rows else None

    async def thread_head(self, chat_id: int) -> Job | None:
        """The chat's latest result since its thread began (in /mode chat, what the next
        message continues); None if there is none yet."""
        rows = await self._rows(
            # A result is delivered (its job about to close) once its file is recorded; an
            # inline result is in some other chat's message, not this chat's conversation.
            f"SELECT {_JOB_COLUMNS} FROM requests WHERE chat_id = ? AND job_prompt IS NOT NULL "
            "AND inline_message_id IS NULL AND result_file_id IS NOT NULL AND id > COALESCE("
            "(SELECT thread_from FROM chat_preferences WHERE chat_id = ?), 0) "
            "ORDER BY id DESC LIMIT 1",
            chat_id,
            chat_id,
        )
        return _job(rows[0]) if rows else None

    async def new_thread(self, chat_id: int) -> None:
        """The chat's next request begins a new thread."""
        await self._write(
            "INSERT INTO chat_preferences (chat_id, thread_from, updated_at) "
            "VALUES (?, (SELECT COALESCE(MAX(id), 0) FROM requests), ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET thread_from = excluded.thread_from, "
            "updated_at = excluded.updated_at",
            chat_id,
            _now(),
        )

    async def forget_requests(self, before: datetime) -> int:
        """Clear what closed requests made before `before` kept to be run again (the prompt, the
        input and result files, the inline message); their ledger lines stay. How many."""
        rows = await self._rows(
            "UPDATE requests SET job_prompt = NULL, file_ids = NULL, result_file_id = NULL, "
            "inline_message_id = NULL, result_message_id = NULL, result_reasoning = NULL "
            f"WHERE created_at < ? AND NOT ({_OPEN}) AND "
            "(job_prompt IS NOT NULL OR file_ids IS NOT NULL OR result_file_id IS NOT NULL "
            "OR inline_message_id IS NOT NULL) "
            "RETURNING id",
            _timestamp(before),
        )
        await self._write("DELETE FROM remix_prompts WHERE created_at < ?", _timestamp(before))
        return len(rows)

    async def add_remix_prompt(self, prompt: RemixPrompt) -> None:
        await self._write(
            "INSERT INTO remix_prompts (chat_id, message_id, job_id, user_id, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO NOTHING",
            prompt.chat_id,
            prompt.message_id,
            prompt.job_id,
            prompt.user_id,
            _timestamp(prompt.created_at),
        )

    async def remix_prompt(self, chat_id: int, message_id: int) -> RemixPrompt | None:
        rows = await self._rows(
            "SELECT job_id, user_id, created_at FROM remix_prompts "
            "WHERE chat_id = ? AND message_id = ?",
            chat_id,
            message_id,
        )
        if not rows:
            return None
        job_id, user_id, created_at = rows[0]
        return RemixPrompt(chat_id, message_id, job_id, user_id, _parse_timestamp(created_at))

    async def past_results(
        self, chat_id: int, user_id: int, since: datetime, limit: int, offset: int = 0
    ) -> list[PastResult]:
        """The user's pictures in a chat made since `since` whose file is kept, newest first."""
        rows = await self._rows(
            f"SELECT id, job_prompt, created_at FROM requests WHERE {_PAST_RESULT} "
            "ORDER BY id DESC LIMIT ? OFFSET ?",
            chat_id,
            user_id,
            _timestamp(since),
            limit,
            offset,
        )
        return [PastResult(job_id, prompt, _parse_timestamp(at)) for job_id, prompt, at in rows]

    async def past_results_count(self, chat_id: int, user_id: int, since: datetime) -> int:
        [(count,)] = await self._rows(
            f"SELECT COUNT(*) FROM requests WHERE {_PAST_RESULT}",
            chat_id,
            user_id,
            _timestamp(since),
        )
        return int(count)

    async def forgotten_results(self, chat_id: int, user_id: int, before: datetime) -> int:
        """How many of the user's pictures in a chat are older than `before` (their files and
        prompts are forgotten, or about to be)."""
        [(count,)] = await self._rows(
            "SELECT COUNT(*) FROM requests WHERE chat_id = ? AND user_id = ? "
            f"AND outcome = '{Outcome.OK}' AND images > 0 AND created_at < ?",
            chat_id,
            user_id,
            _timestamp(before),
        )
        return int(count)

    async def close_request(self, closing: Closing) -> bool:
        """Close a job's ledger line, once: False if it was closed before or its run was taken
        over (`closing.attempt` is not the job's), and then nothing changes, so a job is
        answered and charged once. Its prompt and files stay, for the buttons under its
        result, until REQUEST_RETENTION_DAYS have passed (forget_requests)."""
        rows = await self._rows(
            "UPDATE requests SET outcome = ?, cost_usd = ?, cost_estimated = ?, latency_ms = ?, "
            "no_picture_reason = ?, unbilled_cost_usd = ?, "
            "finished_at = ?, generating = 0, worker = NULL "
            f"WHERE {_FENCED} RETURNING id",
            closing.outcome.value,
            float(closing.cost_usd),
            int(closing.estimated),
            closing.latency_ms,
            closing.no_picture_reason.value if closing.no_picture_reason else None,
            float(closing.unbilled_cost_usd),
            _now(),
            closing.job_id,
            closing.attempt,
        )
        return bool(rows)

    # ---- saved references --------------------------------------------------------------------
    async def save_ref(self, ref: PictureRef, most: int) -> bool:
        """Save (or replace) the owner's reference of that name (its `id` is the database's);
        False if that would make more than `most` references of theirs."""
        rows = await self._rows(
            "INSERT INTO picture_refs (owner_id, name, file_id, photo, saved_at) "
            "SELECT ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM picture_refs "
            "WHERE owner_id = ? AND name <> ?) < ? "
            "ON CONFLICT (owner_id, name) DO UPDATE SET file_id = excluded.file_id, "
            "photo = excluded.photo, saved_at = excluded.saved_at RETURNING id",
            ref.owner_id,
            ref.name,
            ref.file_id,
            int(ref.photo),
            _now(),
            ref.owner_id,
            ref.name,
            most,
        )
        return bool(rows)

    async def refs(self, *owner_ids: int) -> list[PictureRef]:
        """The references of these owners, in the order given, each's by name."""
        if not owner_ids:
            return []
        marks = ", ".join("?" for _ in owner_ids)
        rows = await self._rows(
            "SELECT id, owner_id, name, file_id, photo FROM picture_refs "
            f"WHERE owner_id IN ({marks}) ORDER BY name",
            *owner_ids,
        )
        found = [_ref(row) for row in rows]
        return sorted(found, key=lambda r: owner_ids.index(r.owner_id))

    async def ref(self, ref_id: int) -> PictureRef | None:
        rows = await self._rows(
            "SELECT id, owner_id, name, file_id, photo FROM picture_refs WHERE id = ?", ref_id
        )
        return _ref(rows[0]) if rows else None

    async def delete_ref(self, ref_id: int) -> bool:
        rows = await self._rows("DELETE FROM picture_refs WHERE id = ? RETURNING id", ref_id)
        return bool(rows)

    async def share_avatar(self, user_id: int, username: str | None, shared: bool) -> None:
        """Whether others may attach the user's profile photo (by their @username)."""
        if not shared:
            await self._write("DELETE FROM shared_avatars WHERE user_id = ?", user_id)
            return
        await self._write(
            "INSERT INTO shared_avatars (user_id, username) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET username = excluded.username",
            user_id,
            username.lower() if username else None,
        )

    async def shared_avatar(self, username: str) -> int | None:
        """The user who shared their profile photo under this @username, if one did."""
        rows = await self._rows(
            "SELECT user_id FROM shared_avatars WHERE username = ?", username.lower()
        )
        return int(rows[0][0]) if rows else None

    # ---- replicas ----------------------------------------------------------------------------
    async def seen_update(self, update_id: int) -> bool:
        """Whether this update was handled already (Telegram sent it again)."""
        return bool(await self._rows("SELECT 1 FROM seen_updates WHERE update_id = ?", update_id))

    async def first_sight(self, update_id: int, now: datetime) -> bool:
        """Remember a handled update; whether it was new (False: another replica handled it
        too)."""
        rows = await self._rows(
            "INSERT INTO seen_updates (update_id, seen_at) VALUES (?, ?) "
            "ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
            update_id,
            _timestamp(now),
        )
        return bool(rows)

    async def forget_updates(self, before: datetime) -> None:
        await self._write("DELETE FROM seen_updates WHERE seen_at < ?", _timestamp(before))

    async def add_album_item(self, chat_id: int, group: str, item: AlbumItem, at: float) -> None:
        await self._write(
            "INSERT INTO album_items (chat_id, media_group_id, message_id, message, added_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, media_group_id, message_id) DO NOTHING",
            chat_id,
            group,
            item.message_id,
            item.message,
            at,
        )

    async def take_album(
        self, chat_id: int, group: str, quiet_since: float
    ) -> list[AlbumItem] | None:
        """All of an album's items, in order, if none arrived after `quiet_since` (in any
        replica); [] while items still arrive; None if another replica took the album."""
        rows = await self._rows(
            "DELETE FROM album_items WHERE chat_id = ? AND media_group_id = ? "
            "AND (SELECT MAX(added_at) FROM album_items "
            "WHERE chat_id = ? AND media_group_id = ?) <= ? "
            "RETURNING message_id, message",
            chat_id,
            group,
            chat_id,
            group,
            quiet_since,
        )
        if rows:
            return sorted((AlbumItem(int(i), m) for i, m in rows), key=lambda a: a.message_id)
        left = await self._rows(
            "SELECT 1 FROM album_items WHERE chat_id = ? AND media_group_id = ? LIMIT 1",
            chat_id,
            group,
        )
        return [] if left else None

    async def cooldown(self, chat_id: int, user_id: int) -> float | None:
        """When the member's last request in the group was accepted (seconds since the epoch)."""
        rows = await self._rows(
            "SELECT accepted_at FROM group_cooldowns WHERE chat_id = ? AND user_id = ?",
            chat_id,
            user_id,
        )
        return float(rows[0][0]) if rows else None

    async def set_cooldown(self, chat_id: int, user_id: int, at: float) -> None:
        await self._write(
            "INSERT INTO group_cooldowns (chat_id, user_id, accepted_at) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id, user_id) DO UPDATE SET accepted_at = excluded.accepted_at",
            chat_id,
            user_id,
            at,
        )

    # ---- the ledger --------------------------------------------------------------------------
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
        return Spend(images=int(images), cost_usd=float(cost), estimated=bool(estimated))

    async def daily_totals(self, since: datetime) -> list[DayTotals]:
        rows = await self._rows(
            # Images, as quotas count them: a x4 request made (or failed to make) four.
            "SELECT substr(created_at, 1, 10), "
            f"COALESCE(SUM(images) FILTER (WHERE outcome = '{Outcome.OK}'), 0), "
            f"COALESCE(SUM(images) FILTER (WHERE {_FAILED}), 0), "
            f"COALESCE(SUM(cost_usd) FILTER (WHERE outcome = '{Outcome.OK}'), 0) "
            "FROM requests WHERE created_at >= ? GROUP BY 1 ORDER BY 1 DESC",
            _timestamp(since),
        )
        return [DayTotals(day, int(ok), int(failed), float(cost)) for day, ok, failed, cost in rows]

    async def top_users(self, since: datetime, limit: int) -> list[UserTotals]:
        rows = await self._rows(
            "SELECT user_id, SUM(images), SUM(cost_usd) FROM requests "
            f"WHERE created_at >= ? AND outcome = '{Outcome.OK}' AND user_id IS NOT NULL "
            "GROUP BY user_id ORDER BY 3 DESC, 2 DESC LIMIT ?",
            _timestamp(since),
            limit,
        )
        return [UserTotals(user, int(images), float(cost)) for user, images, cost in rows]

    async def failures_by_kind(self, since: datetime) -> list[tuple[str, int]]:
        rows = await self._rows(
            # A request without a picture counts under its reason: `refused/image_safety`.
            "SELECT outcome || COALESCE('/' || no_picture_reason, ''), COUNT(*) FROM requests "
            f"WHERE created_at >= ? AND {_FAILED} "
            "GROUP BY 1 ORDER BY 2 DESC, 1",
            _timestamp(since),
        )
        return [(kind, int(count)) for kind, count in rows]

    # ---- operated from Telegram ----------------------------------------------------------------
    async def access_rules(self) -> dict[int, bool]:
        rows = await self._rows("SELECT subject_id, allowed FROM access_rules")
        return {subject: bool(allowed) for subject, allowed in rows}

    async def set_access(self, subject_id: int, allowed: bool) -> None:
        await self._write(
            "INSERT INTO access_rules (subject_id, allowed, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (subject_id) DO UPDATE SET allowed = excluded.allowed, "
            "updated_at = excluded.updated_at",
            subject_id,
            int(allowed),
            _now(),
        )

    async def limits(self) -> dict[int, Limits]:
        rows = await self._rows("SELECT subject_id, daily_images, monthly_budget_usd FROM limits")
        return {subject: Limits(daily, budget) for subject, daily, budget in rows}

    async def set_limits(self, subject_id: int, limits: Limits) -> None:
        budget = limits.monthly_budget_usd
        await self._write(
            "INSERT INTO limits (subject_id, daily_images, monthly_budget_usd, updated_at) "
            "VALUES (?, ?, ?, ?) "
            "ON CONFLICT (subject_id) DO UPDATE SET daily_images = excluded.daily_images, "
            "monthly_budget_usd = excluded.monthly_budget_usd, updated_at = excluded.updated_at",
            subject_id,
            limits.daily_images,
            None if budget is None else float(budget),
            _now(),
        )

    async def audit(self, admin_id: int, action: str, subject_id: int | None, value: str) -> None:
        await self._write(
            "INSERT INTO audit (at, admin_id, action, subject_id, value) VALUES (?, ?, ?, ?, ?)",
            _now(),
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
        rows = await self._rows(
            "INSERT INTO payments (charge_id, user_id, credits, stars, paid_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (charge_id) DO NOTHING RETURNING charge_id",
            payment.charge_id,
            payment.user_id,
            payment.credits,
            payment.stars,
            _now(),
        )
        return bool(rows)

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
        rows = await self._rows(
            "UPDATE payments SET refunded_at = ? WHERE charge_id = ? AND refunded_at IS NULL "
            "RETURNING charge_id",
            _now(),
            charge_id,
        )
        return bool(rows)

    # ---- languages ---------------------------------------------------------------------------
    async def language(self, user_id: int) -> str | None:
        rows = await self._rows("SELECT language FROM user_languages WHERE user_id = ?", user_id)
        return str(rows[0][0]) if rows else None

    async def set_language(self, user_id: int, language: str | None) -> None:
        """Store the user's choice; None forgets it (their Telegram app's language again)."""
        if language is None:
            await self._write("DELETE FROM user_languages WHERE user_id = ?", user_id)
            return
        await self._write(
            "INSERT INTO user_languages (user_id, language) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET language = excluded.language",
            user_id,
            language,
        )

    # ---- presets and stickers ----------------------------------------------------------------
    async def presets(self, owner_id: int) -> dict[str, str]:
        """A user's or a group's presets: name -> template, by name."""
        rows = await self._rows(
            "SELECT name, template FROM presets WHERE owner_id = ? ORDER BY name", owner_id
        )
        return {name: template for name, template in rows}

    async def set_preset(self, owner_id: int, name: str, template: str) -> None:
        await self._write(
            "INSERT INTO presets (owner_id, name, template) VALUES (?, ?, ?) "
            "ON CONFLICT (owner_id, name) DO UPDATE SET template = excluded.template",
            owner_id,
            name,
            template,
        )

    async def delete_preset(self, owner_id: int, name: str) -> bool:
        rows = await self._rows(
            "DELETE FROM presets WHERE owner_id = ? AND name = ? RETURNING name", owner_id, name
        )
        return bool(rows)

    async def choose_preset(self, chat_id: int, user_id: int, chosen: ChosenPreset) -> None:
        await self._write(
            "INSERT INTO chosen_presets (chat_id, user_id, source, name) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (chat_id, user_id) DO UPDATE SET source = excluded.source, "
            "name = excluded.name",
            chat_id,
            user_id,
            chosen.source,
            chosen.name,
        )

    async def take_chosen_preset(self, chat_id: int, user_id: int) -> ChosenPreset | None:
        """The preset the user chose for their next prompt here, now used up; None if none."""
        rows = await self._rows(
            "DELETE FROM chosen_presets WHERE chat_id = ? AND user_id = ? RETURNING source, name",
            chat_id,
            user_id,
        )
        return ChosenPreset(*rows[0]) if rows else None

    async def sticker_set(self, user_id: int) -> StickerSetState | None:
        rows = await self._rows(
            "SELECT number, stickers FROM sticker_sets WHERE user_id = ?", user_id
        )
        return StickerSetState(int(rows[0][0]), int(rows[0][1])) if rows else None

    async def set_sticker_set(self, user_id: int, state: StickerSetState) -> None:
        await self._write(
            "INSERT INTO sticker_sets (user_id, number, stickers) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET number = excluded.number, "
            "stickers = excluded.stickers",
            user_id,
            state.number,
            state.stickers,
        )

    async def ping(self) -> None:
        """Raises unless the database takes a write (a new value each time: SQLite skips
        writing a row that would not change)."""
        await self._write(
            "INSERT INTO heartbeat (id, at) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            datetime.now(UTC).isoformat(),
        )

    async def close(self) -> None:
        await self._db.close()


def database_failure(exc: BaseException) -> bool:
    """Whether `exc` comes from the database (its driver, or the bot's own wrapper of it)."""
    return isinstance(exc, DatabaseError) or type(exc).__module__.startswith(("sqlite3", "asyncpg"))


async def open_storage(
    database_url: str | None, sqlite_path: Path, pool_size: int = 10
) -> SqlStorage:
    """The storage on PostgreSQL at `database_url`, else in the SQLite file at `sqlite_path`;
    migrated, and proven to take writes (a read-only volume or a full disk shows here, not at the
    first user's request). StorageError if it cannot be used."""
    db = await open_database(database_url, sqlite_path, pool_size)
    try:
        await db.migrate(_MIGRATIONS)
        storage = SqlStorage(db)
        await storage.ping()
    except BaseException as exc:
        await db.close()  # aiosqlite's thread would keep the process alive, failed start and all
        if isinstance(exc, DatabaseError | CheckViolated):
            raise
        if database_failure(exc):
            raise DatabaseError(f"cannot use the database {db}: {exc}") from exc
        raise
    return storage


def _job(row: Sequence[Any]) -> Job:
    (job_id, chat_id, user_id, message_id, in_group, prompt, model, ratio, size, inputs,
     output_format, file_ids, cost, outcome, created_at, note_id, upstream_sent,
     funding, language, images, enlarge, inline_message_id, result_file_id,
     attempt, transform, kind, parent_id, thread_turn, conversation,
     result_reasoning) = row  # fmt: skip
    return Job(
        id=job_id,
        who=Requester(user_id, chat_id, message_id, bool(in_group), language),
        order=Order(prompt or "", model, ratio, size, inputs),
        output_format=output_format,
        file_ids=tuple(json.loads(file_ids or "[]")),
        estimated_cost_usd=float(cost),
        outcome=Outcome(outcome),
        created_at=_parse_timestamp(created_at),
        note_id=note_id,
        upstream_sent=bool(upstream_sent),
        funding=Funding(funding),
        options=JobOptions(
            int(images),
            bool(enlarge),
            inline_message_id,
            Transform(transform) if transform else None,
            Words(kind) if kind in _WORDS else None,
            parent_id,
            int(thread_turn),
            bool(conversation),
        ),
        result_file_id=result_file_id,
        attempt=int(attempt),
        result_reasoning=result_reasoning,
    )


def _ref(row: Sequence[Any]) -> PictureRef:
    ref_id, owner_id, name, file_id, photo = row
    return PictureRef(int(ref_id), int(owner_id), name, file_id, bool(photo))


def _parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
