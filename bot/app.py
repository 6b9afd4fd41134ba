"""Wiring: builds the Telegram Application with its services, opened at start and closed at stop."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import uvloop
from telegram import BotCommand, Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import HTTPXRequest

from bot import i18n, texts, transport
from bot.config import EdenSettings, LoadSettings, Settings
from bot.jobs.policy import Policy
from bot.jobs.queue import JobQueue
from bot.jobs.retention import Retention
from bot.jobs.runner import Lease
from bot.lineup.availability import ModelAvailability
from bot.ops import logs
from bot.ops.health import HealthServer, Throttled
from bot.ops.metrics import Metrics
from bot.overrides import Overrides
from bot.store.storage import Storage, StorageError, open_storage
from bot.telegram.albums import AlbumCollector
from bot.telegram.budget import CALLS_PER_SECOND, TelegramBudget
from bot.telegram.door import Doorkeeper, warn_about_access
from bot.telegram.handlers import register
from bot.telegram.handlers.payments import credit_kept_payments
from bot.telegram.languages import UserLanguages
from bot.telegram.lifecycle import stop_gracefully_on_signals
from bot.telegram.notes import QueueNotes
from bot.telegram.replies import TelegramReplies
from bot.telegram.services import BotContext, Services
from bot.telegram.webhook import WebhookServer
from bot.upstream import ApiMode, CircuitBreaker, EdenClient, ImageService, RetryingService

log = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]

# Polling errors this recent make /healthz report Telegram as unreachable.
POLLING_ERROR_WINDOW = 60.0
# /healthz needs no credentials and its database check writes: at most one write this often.
DATABASE_CHECK_INTERVAL = 30.0


def eden_client(
    eden: EdenSettings, *, mode: ApiMode | None = None, max_connections: int = 100
) -> EdenClient:
    """The Eden client as configured; `mode` overrides EDENAI_API_MODE."""
    return EdenClient(
        base_url=eden.base_url,
        api_key=eden.api_key.get_secret_value(),
        mode=mode or eden.api_mode,
        timeout=eden.timeout_seconds,
        timeout_4k=eden.timeout_4k_seconds,
        max_connections=max_connections,
    )


def image_service(load: LoadSettings, client: EdenClient) -> ImageService:
    """Eden's client inside its retries, inside the breaker: the breaker counts requests whose
    retries all failed, and while open it answers at once, with no retries."""
    retrying = RetryingService(
        client,
        retries=load.upstream_retries,
        base_delay=load.upstream_retry_base_seconds,
        retry_timeouts=load.upstream_retry_timeouts,
    )
    return CircuitBreaker(
        retrying,
        threshold=load.breaker_threshold,
        cooloff=load.breaker_cooloff_seconds,
    )


def telegram_request(connections: int) -> HTTPXRequest:
    """PTB's request object on the shared transport (which, not PTB, sizes the pool)."""
    return HTTPXRequest(
        # In a burst, patience for a free connection rather than a TimedOut.
        pool_timeout=30,
        media_write_timeout=120,
        httpx_kwargs={"transport": transport.pooled(connections)},
    )


def build_application(settings: Settings) -> BotApplication:
    api = settings.telegram.api_url.rstrip("/")

    health: list[HealthServer] = []
    retention: list[Retention] = []
    opened: list[ImageService] = []
    opened_storage: list[Storage] = []
    webhooks: list[WebhookServer] = []
    # Keeps to Telegram's flood limits, replies first, and waits out a RetryAfter before sending
    # again. Several replicas share the bot's 30 a second. Off (a test server): no limits, but
    # the queue notes still declare their priority through it.
    share = CALLS_PER_SECOND / settings.database.replicas
    budget = TelegramBudget(share if settings.load.telegram_rate_limit else None)

    async def start(application: BotApplication) -> None:
        database = settings.database
        storage = await open_storage(
            database.url, settings.database_path, database.database_pool_size
        )
        opened_storage.append(storage)
        # Telegram hands updates to one getUpdates caller at a time; a second one would take
        # turns with the first and both would miss updates.
        if not settings.server.webhook_url and not await storage.hold_polling():
            raise StorageError(
                f"another replica already polls Telegram with {storage.where}; run several "
                "replicas with a webhook (WEBHOOK_URL), or stop the other one"
            )
        log.info("database: %s", storage.where)
        metrics = Metrics()
        for notice in settings.eden.model_notices():
            log.warning("%s", notice)
        # Images hosted on the API's own host are downloaded on the same client, hence a few
        # more connections than the cap.
        client = eden_client(
            settings.eden, max_connections=settings.load.max_concurrent_generations + 8
        )
        availability = ModelAvailability(client.list_models, settings.eden.models)
        availability.start()
        images = image_service(settings.load, client)
        opened.append(images)
        overrides = Overrides(storage)
        await overrides.load()
        await overrides.watch()
        policy = Policy(
            settings.access, storage, overrides=overrides, selling=settings.stars.enabled
        )
        jobs = JobQueue(
            replies=TelegramReplies(application.bot, budget, settings.bot.inline_storage_chat_id),
            notes=QueueNotes(application.bot, storage.queue, storage.set_note),
            store=storage,
            policy=policy,
            images=images,
            words=client,
            capacity=settings.load.max_concurrent_generations,
            keep_prompts=settings.access.log_prompts,
            lease=Lease(
                worker=database.replica_id,
                length=timedelta(seconds=database.job_lease_seconds),
                # Polling, this replica holds the lock only one may hold: it is the only one.
                exclusive=storage.exclusive or not settings.server.webhook_url,
            ),
            metrics=metrics,
            max_turns=settings.bot.conversation_max_turns,
        )
        metrics.watch_queue(lambda: jobs.waiting, lambda: jobs.generating)
        metrics.watch_database(lambda: storage.round_trips)
        services = Services(
            settings=settings,
            storage=storage,
            availability=availability,
            albums=AlbumCollector(storage),
            doorkeeper=Doorkeeper(settings.access, overrides=overrides),
            policy=policy,
            jobs=jobs,
            metrics=metrics,
            overrides=overrides,
            languages=UserLanguages(storage),
        )
        services.attach(application)
        if settings.server.health_port:
            writable = Throttled(storage.ping, DATABASE_CHECK_INTERVAL)
            server = HealthServer(
                lambda: health_checks(application, services, writable, webhooks),
                required=("updates", "database", "webhook"),
                metrics=metrics,
                listen=settings.server.health_listen,
                port=settings.server.health_port,
            )
            try:
                await server.start()
                health.append(server)
            except OSError as exc:
                # The bot still works; the failing health check will say that this did not.
                log.error("cannot serve /healthz on port %d: %s", settings.server.health_port, exc)
        warn_about_access(settings.access)
        await set_commands(application, selling=settings.stars.enabled)
        await credit_kept_payments(application.bot, storage, settings.bot.data_dir)
        await jobs.start()
        retention.append(Retention(storage, settings.access.request_retention_days))
        retention[0].start()
        if settings.server.webhook_url:
            webhooks.append(await serve_webhook(application, settings, storage))
            stop_taking = webhooks[0].stop
        else:
            stop_taking = stop_polling
        stop_gracefully_on_signals(
            application, settings.load.shutdown_grace_seconds, stop_taking=stop_taking
        )

    async def stop_polling() -> None:
        if application.updater and application.updater.running:
            await application.updater.stop()

    async def stop(application: BotApplication) -> None:
        for webhook in webhooks:
            await webhook.stop()
        for server in health:
            await server.stop()
        for task in retention:
            await task.stop()
        # Nothing was opened if start-up failed before `start` (a refused token, no network).
        if services := Services.find(application):
            await services.availability.stop()
            # After a signal this has been done with the grace period; otherwise now, at once.
            # Outcomes the ledger refused during the run (a full disk) get a last try here.
            await services.jobs.drain(0)
            for images in opened:
                await images.aclose()
        for storage in opened_storage:
            await storage.close()

    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = ApplicationBuilder()
    builder = (
        builder.rate_limiter(budget)
        .token(settings.telegram.bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .context_types(ContextTypes(context=BotContext))
        # Results quote the prompt they answer, even if it was deleted meanwhile.
        .defaults(Defaults(do_quote=True, allow_sending_without_reply=True))
        # Handlers return at once (a request becomes a job), but a slow Telegram call in one
        # must not hold up the others.
        .concurrent_updates(True)
        # Telegram takes ~30 messages a second anyway; every new connection costs a TLS
        # handshake, and in a burst 200 of them cost more than waiting for one of 32.
        .request(telegram_request(32))
        .get_updates_request(telegram_request(1))
        .post_init(start)
        .post_shutdown(stop)
    )
    application: BotApplication = builder.build()
    register(application)
    return application


async def set_commands(application: BotApplication, *, selling: bool) -> None:
    """The command menu in each shipped language (Telegram shows it by the app's language; the
    English one, set without a language, to everyone else)."""
    # A bot that sells must offer /paysupport (Telegram's rule for payments).
    commands = texts.COMMANDS + (texts.STAR_COMMANDS if selling else ())
    for language in i18n.LANGUAGES:
        with i18n.speaking(language):
            menu = [BotCommand(command, describe()) for command, describe in commands]
        # Telegram takes two-letter codes only: pt_BR's menu is every Portuguese speaker's.
        code = language.split("_")[0] if language != i18n.DEFAULT else None
        await application.bot.set_my_commands(menu, language_code=code)


async def serve_webhook(
    application: BotApplication, settings: Settings, storage: Storage
) -> WebhookServer:
    """Serve the webhook, then tell Telegram to post there."""
    server = settings.server
    secret = server.webhook_secret.get_secret_value() or secrets.token_urlsafe(32)
    logs.mask(secret)  # PTB logs it at DEBUG, in setWebhook's parameters
    webhook = WebhookServer(
        application,
        storage,
        path=urlsplit(server.webhook_url).path,
        secret=secret,
        listen=server.webhook_listen,
        port=server.webhook_port,
    )
    await webhook.start()
    await application.bot.set_webhook(
        server.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
    )
    return webhook


async def health_checks(
    application: BotApplication,
    services: Services,
    database: Callable[[], Awaitable[None]],
    webhooks: list[WebhookServer],
) -> dict[str, str]:
    """The bot's real state: updates arriving (polling loop or webhook server), the database
    taking writes, and, for information, whether polling Telegram has failed lately."""
    checks: dict[str, str] = {}
    updater = application.updater
    taking = any(w.serving for w in webhooks) or bool(updater and updater.running)
    checks["updates"] = "ok" if application.running and taking else "stopped"
    server = services.settings.server
    if server.webhook_url:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", server.webhook_port), timeout=2
            )
            writer.close()
            checks["webhook"] = "ok"
        except (OSError, TimeoutError) as exc:
            checks["webhook"] = f"not answering: {exc}"
    else:
        checks["webhook"] = "ok"  # not in use
    try:
        await database()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"not writable: {exc}"
    failed_at = services.metrics.polling_failed_at
    recent = failed_at and time.time() - failed_at < POLLING_ERROR_WINDOW
    checks["telegram"] = "polling failed in the last minute" if recent else "ok"
    # Informational, like "telegram": the bot still answers, with the models Eden lists.
    checks["models"] = services.availability.status()
    return checks


def run(settings: Settings) -> None:
    """Runs the bot until SIGTERM or SIGINT: with a webhook if WEBHOOK_URL is set, else polling."""
    # uvloop: the event loop and its sockets in C; every update, upload and reply passes there.
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    application = build_application(settings)
    server = settings.server
    # The bot installs its own SIGINT/SIGTERM handling (a graceful stop with a grace period for
    # requests in flight); PTB's would stop at once.
    try:
        if server.webhook_url:
            run_with_webhook(application, loop)
        else:
            application.run_polling(
                allowed_updates=Update.ALL_TYPES, stop_signals=None, close_loop=False
            )
    finally:
        # PTB closes its HTTP client only after a successful start: after a refused token the
        # client's aiohttp session would be left open (and reported so at exit).
        loop.run_until_complete(application.bot.request.shutdown())
        loop.close()


def run_with_webhook(application: BotApplication, loop: asyncio.AbstractEventLoop) -> None:
    """PTB's run_webhook without PTB's webhook server, which answers a post before its update is
    handled; the bot's own is started in `post_init`. Runs until `stop_running()`."""
    try:
        loop.run_until_complete(application.initialize())
        if application.post_init:
            loop.run_until_complete(application.post_init(application))
        loop.run_until_complete(application.start())
        loop.run_forever()  # stop_running() stops the loop, as it does PTB's run_webhook
    finally:
        if application.running:
            loop.run_until_complete(application.stop())
        loop.run_until_complete(application.shutdown())
        if application.post_shutdown:
            loop.run_until_complete(application.post_shutdown(application))
