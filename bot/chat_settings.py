"""A chat's settings for its next request: its own choices (model, ratio, size, format) where
still allowed, else the operator's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from bot.catalog import OUTPUT_FORMATS, ModelCapabilities, capabilities_for, pick
from bot.config import BotSettings
from bot.conversation import Mode
from bot.storage import Storage


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """The values a chat's next request will use: its own choices, else the operator's defaults."""

    model: str
    aspect_ratio: str
    image_size: str
    output_format: str
    models: tuple[str, ...]
    conversation: Mode = Mode.SINGLE

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


async def resolve(
    storage: Storage, defaults: BotSettings, models: tuple[str, ...], chat_id: int
) -> ChatSettings:
    """The settings `chat_id` uses now, with `models` the ones it may pick (the default first)."""
    stored = await storage.preferences(chat_id)
    # A stored value that is no longer allowed (the operator changed the models, or Eden stopped
    # listing one) yields the default, or failing that the first value the model can do.
    model = pick(stored.model, models[0], models)
    caps = capabilities_for(model)
    return ChatSettings(
        model=model,
        aspect_ratio=pick(stored.aspect_ratio, defaults.default_aspect_ratio, caps.aspect_ratios),
        image_size=pick(stored.image_size, defaults.default_image_size, caps.image_sizes),
        output_format=pick(stored.output_format, OUTPUT_FORMATS[0], OUTPUT_FORMATS),
        models=models,
        conversation=Mode(stored.conversation) if stored.conversation in set(Mode) else Mode.SINGLE,
    )
