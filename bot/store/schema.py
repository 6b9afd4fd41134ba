"""The schema: each migration moves it one version up, in SQL for both databases."""

from __future__ import annotations

from bot.store.drivers import Migration

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
MIGRATIONS: tuple[Migration, ...] = (
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
    Migration(
        # A credit job refused for want of a credit names the trigger that refused it, so the
        # storage recognises the refusal by name (PostgreSQL's constraint name; SQLite has only
        # the message, which starts with it).
        sqlite=(
            "DROP TRIGGER job_charges_credit",
            """
            CREATE TRIGGER job_charges_credit BEFORE INSERT ON requests
            WHEN NEW.funding = 'credit' BEGIN
                SELECT RAISE(ABORT, 'job_charges_credit: no credits left')
                WHERE COALESCE((SELECT balance FROM credits WHERE user_id = NEW.user_id), 0) < 1;
                UPDATE credits SET balance = balance - 1 WHERE user_id = NEW.user_id;
            END
            """,
        ),
        postgres=(
            """
            CREATE OR REPLACE FUNCTION job_charges_credit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE credits SET balance = balance - 1
                WHERE user_id = NEW.user_id AND balance >= 1;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'no credits left' USING CONSTRAINT = 'job_charges_credit';
                END IF;
                RETURN NEW;
            END $$
            """,
        ),
    ),
)
