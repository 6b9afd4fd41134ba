"""What every handler gets: the bot's services, reachable as `context.services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.chat_settings import ChatSettings, resolve
from bot.config import Settings
from bot.jobs.policy import Policy
from bot.jobs.queue import JobQueue
from bot.lineup.availability import ModelAvailability
from bot.ops.metrics import Metrics
from bot.overrides import Overrides
from bot.store.storage import Storage
from bot.telegram.albums import AlbumCollector
from bot.telegram.door import Doorkeeper
from bot.telegram.languages import UserLanguages

_KEY = "services"


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    storage: Storage
    availability: ModelAvailability
    albums: AlbumCollector
    doorkeeper: Doorkeeper
    policy: Policy
    jobs: JobQueue
    metrics: Metrics
    overrides: Overrides
    languages: UserLanguages

    def attach(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.bot_data[_KEY] = self

    @staticmethod
    def of(application: Application[Any, Any, Any, Any, Any, Any]) -> Services:
        services: Services = application.bot_data[_KEY]
        return services

    @staticmethod
    def find(application: Application[Any, Any, Any, Any, Any, Any]) -> Services | None:
        """The services, if start-up got as far as opening them."""
        found: Services | None = application.bot_data.get(_KEY)
        return found

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        availability = self.availability
        return await resolve(
            self.storage, self.settings.bot, availability.offered(), chat_id, availability.current
        )


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        return Services.of(self.application)
