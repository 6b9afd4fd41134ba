"""What every handler gets: the bot's services, reachable as `context.services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.catalog import ModelCapabilities, capabilities_for
from bot.config import Settings
from bot.storage import Storage
from bot.upstream import ImageService

_KEY = "services"


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """The values a chat's next request will use: its own choices, else the operator's defaults."""

    model: str
    aspect_ratio: str
    image_size: str

    @property
    def capabilities(self) -> ModelCapabilities:
        return capabilities_for(self.model)


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    storage: Storage
    images: ImageService

    def attach(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.bot_data[_KEY] = self

    @staticmethod
    def of(application: Application[Any, Any, Any, Any, Any, Any]) -> Services:
        services: Services = application.bot_data[_KEY]
        return services

    async def chat_settings(self, chat_id: int) -> ChatSettings:
        stored = await self.storage.preferences(chat_id)
        model = self.settings.eden.model
        caps = capabilities_for(model)
        # A stored value the model cannot do (the operator changed the model) yields the default,
        # which config validation guarantees the model supports.
        defaults = self.settings.bot
        ratio, size = stored.aspect_ratio, stored.image_size
        return ChatSettings(
            model=model,
            aspect_ratio=ratio if ratio in caps.aspect_ratios else defaults.default_aspect_ratio,
            image_size=size if size in caps.image_sizes else defaults.default_image_size,
        )


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        return Services.of(self.application)
