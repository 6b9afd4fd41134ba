"""Wiring: builds the Telegram Application with its services, opened at start and closed at stop."""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults

from bot import texts
from bot.admission import Admission
from bot.config import Settings
from bot.handlers import register
from bot.handlers.access import Doorkeeper
from bot.handlers.albums import AlbumCollector
from bot.handlers.context import BotContext, Services
from bot.storage import SqliteStorage
from bot.upstream import EdenClient

log = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


def build_application(settings: Settings) -> BotApplication:
    api = settings.telegram.api_url.rstrip("/")

    async def start(application: BotApplication) -> None:
        storage = await SqliteStorage.open(settings.database_path)
        images = EdenClient(
            base_url=settings.eden.base_url,
            api_key=settings.eden.api_key.get_secret_value(),
            mode=settings.eden.api_mode,
            timeout=settings.eden.timeout_seconds,
        )
        Services(
            settings=settings,
            storage=storage,
            images=images,
            albums=AlbumCollector(),
            admission=Admission(settings.access, storage),
            doorkeeper=Doorkeeper(settings.access),
        ).attach(application)
        if settings.access.is_open:
            log.warning(
                "Neither ALLOWED_USER_IDS nor ALLOWED_CHAT_IDS is set: anyone who finds this bot "
                "can use it, and every image is paid from your Eden AI account"
            )
        await application.bot.set_my_commands([BotCommand(*c) for c in texts.COMMANDS])

    async def stop(application: BotApplication) -> None:
        services = Services.of(application)
        await services.images.aclose()
        await services.storage.close()

    application: BotApplication = (
        ApplicationBuilder()
        .token(settings.telegram.bot_token.get_secret_value())
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
        .build()
    )
    register(application)
    return application
