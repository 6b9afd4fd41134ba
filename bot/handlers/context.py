"""What every handler gets: the bot's services, reachable as `context.services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.admission import Admission
from bot.availability import ModelAvailability
from bot.catalog import OUTPUT_FORMATS, ModelCapabilities, capabilities_for, pick
from bot.config import Settings
from bot.fidelity import FidelityCheck
from bot.handlers.albums import AlbumCollector
from bot.metrics import Metrics
from bot.scheduler import FairScheduler

if TYPE_CHECKING:
    from bot.handlers.access import Doorkeeper
from bot.storage import Storage
from bot.upstream import ImageService

_KEY = "services"


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """The values a chat's next request will use: its own choices, else the operator's defaults."""

    model: str
    aspect_ratio: str
    image_size: str
    output_format: str
    models: tuple[str, ...]

    @property
    def capabilities(self) -> ModelCapabilities:
        return capabilities_for(self.model)

    def choices(self, field: str) -> tuple[str, ...]:
        """The values `field` may take in this chat, with its current model."""
        caps = self.capabilities
        return {
            "model": self.models,
            "aspect_ratio": caps.aspect_ratios,
            "image_size": caps.image_sizes,
            "output_format": OUTPUT_FORMATS,
        }[field]


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    storage: Storage
    images: ImageService
    availability: ModelAvailability
    albums: AlbumCollector
    admission: Admission
    doorkeeper: Doorkeeper
    scheduler: FairScheduler
    metrics: Metrics
    fidelity: FidelityCheck

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
        stored = await self.storage.preferences(chat_id)
        models = self.availability.offered()
        defaults = self.settings.bot
        # A stored value that is no longer allowed (the operator changed the models) yields the
        # default, or failing that the first value the model can do.
        model = pick(stored.model, models[0], models)
        caps = capabilities_for(model)
        return ChatSettings(
            model=model,
            aspect_ratio=pick(
                stored.aspect_ratio, defaults.default_aspect_ratio, caps.aspect_ratios
            ),
            image_size=pick(stored.image_size, defaults.default_image_size, caps.image_sizes),
            output_format=pick(stored.output_format, OUTPUT_FORMATS[0], OUTPUT_FORMATS),
            models=models,
        )


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        return Services.of(self.application)
