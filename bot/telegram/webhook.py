"""The webhook server: Telegram's posts, each answered 200 only once its update is safe."""

from __future__ import annotations

import hmac
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.store.storage import database_failure
from bot.store.updates import Updates
from bot.telegram.services import BotContext

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's updates are a few kilobytes.
MAX_BODY_BYTES = 1024 * 1024
# Telegram gives up redelivering long before this; older update ids are forgotten.
REMEMBERED = timedelta(days=1)
FORGET_EVERY_SECONDS = 600.0


class WebhookUnavailable(Exception):
    """The webhook cannot be served (its port is taken, its address is not this host's)."""


class WebhookServer:
    """Telegram forgets an update once its post is answered 200, and resends it otherwise. So the
    update is handled first (its handlers write their jobs and payments to the database) and
    answered after: a replica that dies in between never answered, and Telegram sends the update
    again, to whichever replica. A handler that could not write to the database gets no 200
    either. A handled update's id is remembered (`seen_updates`), so that a resend of it is
    answered at once and handled by no replica again."""

    def __init__(
        self,
        application: Application[Any, BotContext, Any, Any, Any, Any],
        storage: Updates,
        *,
        path: str,
        secret: str,
        listen: str,
        port: int,
    ) -> None:
        self._application = application
        self._storage = storage
        self._path = "/" + path.lstrip("/")
        self._secret = secret.encode()
        self._listen = listen
        self._port = port
        self._runner: web.AppRunner | None = None
        self._failed: set[int] = set()  # updates whose handlers could not write to the database
        self._forgotten_at = time.monotonic()
        application.add_error_handler(self._note_failure)

    @property
    def serving(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        # aiohttp stops reading a body (chunked ones too) past this, with a 413.
        app = web.Application(client_max_size=MAX_BODY_BYTES + 1)
        app.router.add_post(self._path, self._post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._listen, self._port).start()
        except OSError as exc:
            await self.stop()
            raise WebhookUnavailable(
                f"cannot serve the webhook on {self._listen}:{self._port}: {exc}"
            ) from exc
        log.info("webhook server listening on %s:%d%s", self._listen, self._port, self._path)

    async def stop(self) -> None:
        """Take no more updates; one being handled is still answered."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _post(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return _refuse(403)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _refuse(413)  # from the headers, before any of the body is read
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refuse(413)
        try:
            update = Update.de_json(json.loads(body), self._application.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("webhook post is not an update: %s", type(exc).__name__)
            return web.Response(status=400)
        if await self._seen(update.update_id):
            log.info("update %d was handled already; dropped", update.update_id)
            return web.Response()
        await self._application.process_update(update)
        if update.update_id in self._failed:
            self._failed.discard(update.update_id)
            log.warning("update %d not answered: Telegram will send it again", update.update_id)
            return web.Response(status=503)
        await self._remember(update.update_id)
        return web.Response()

    async def _note_failure(self, update: object, context: BotContext) -> None:
        """An error handler: a database failure leaves the update unanswered, to be sent again."""
        if isinstance(update, Update) and context.error and database_failure(context.error):
            self._failed.add(update.update_id)

    async def _seen(self, update_id: int) -> bool:
        try:
            return await self._storage.seen_update(update_id)
        except Exception as exc:
            # Better handled twice than never.
            log.warning("could not check whether update %d is new: %s", update_id, exc)
            return False

    async def _remember(self, update_id: int) -> None:
        """The update is handled, its answer 200 whatever happens here: remembering it only
        spares a resend from being handled twice."""
        now = datetime.now(UTC)
        try:
            await self._storage.first_sight(update_id, now)
            if time.monotonic() - self._forgotten_at > FORGET_EVERY_SECONDS:
                self._forgotten_at = time.monotonic()
                await self._storage.forget_updates(now - REMEMBERED)
        except Exception as exc:
            log.warning("could not record update %d as handled: %s", update_id, exc)


def _refuse(status: int) -> web.Response:
    """A refusal before the body is read (or all of it): the connection ends with the answer,
    rather than aiohttp reading on what is left of the body."""
    response = web.Response(status=status)
    response.force_close()
    return response
