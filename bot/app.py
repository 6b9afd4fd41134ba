"""Wiring: builds the Telegram Application with its services, opened at start and closed at stop."""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot import texts
from bot.admission import Admission
from bot.config import Settings
from bot.handlers import register
from bot.handlers.access import Doorkeeper
from bot.handlers.albums import AlbumCollector
from bot.handlers.context import BotContext, Services
from bot.handlers.lifecycle import answer_unfinished, stop_gracefully_on_signals
from bot.scheduler import FairScheduler
from bot.storage import SqliteStorage
from bot.upstream import CircuitBreaker, EdenClient, ImageService, RetryingService

log = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


def image_service(settings: Settings) -> ImageService:
    """Eden's client inside its retries, inside the breaker: the breaker counts requests whose
    retries all failed, and while open it answers at once, with no retries."""
    eden, load = settings.eden, settings.load
    client = EdenClient(
        base_url=eden.base_url,
        api_key=eden.api_key.get_secret_value(),
        mode=eden.api_mode,
        timeout=eden.timeout_seconds,
    )
    retrying = RetryingService(
        client,
        retries=load.upstream_retries,
        base_delay=load.upstream_retry_base_seconds,
    )
    return CircuitBreaker(
        retrying,
        threshold=load.breaker_threshold,
        cooloff=load.breaker_cooloff_seconds,
    )


def build_application(settings: Settings) -> BotApplication:
    api = settings.telegram.api_url.rstrip("/")

    async def start(application: BotApplication) -> None:
        storage = await SqliteStorage.open(settings.database_path)
        Services(
            settings=settings,
            storage=storage,
            images=image_service(settings),
            albums=AlbumCollector(),
            admission=Admission(settings.access, storage),
            doorkeeper=Doorkeeper(settings.access),
            scheduler=FairScheduler(settings.load.max_concurrent_generations),
        ).attach(application)
        if settings.access.is_open:
            log.warning(
                "Neither ALLOWED_USER_IDS nor ALLOWED_CHAT_IDS is set: anyone who finds this bot "
                "can use it, and every image is paid from your Eden AI account"
            )
        await application.bot.set_my_commands([BotCommand(*c) for c in texts.COMMANDS])
        await answer_unfinished(application.bot, storage)
        stop_gracefully_on_signals(application, settings.load.shutdown_grace_seconds)

    async def stop(application: BotApplication) -> None:
        services = Services.of(application)
        await services.images.aclose()
        await services.storage.close()

    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = ApplicationBuilder()
    if settings.load.telegram_rate_limit:
        # Keeps to Telegram's flood limits, and waits out a RetryAfter before sending again.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    builder = (
        builder.token(settings.telegram.bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .context_types(ContextTypes(context=BotContext))
        # Results quote the prompt they answer, even if it was deleted meanwhile.
        .defaults(Defaults(do_quote=True, allow_sending_without_reply=True))
        # A generation takes up to a minute: one chat's request must not hold up the others.
        .concurrent_updates(True)
        .media_write_timeout(120)
        .post_init(start)
        .post_shutdown(stop)
    )
    application: BotApplication = builder.build()
    register(application)
    return application
