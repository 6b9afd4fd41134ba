"""A chat's settings for its next request: its own choices (model, ratio, size, format) where
still allowed, else the operator's defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot import texts
from bot.config import BotSettings
from bot.jobs.conversation import Mode
from bot.lineup.catalog import (
    OUTPUT_FORMATS,
    ModelCapabilities,
    capabilities_for,
    nearest_size,
    pick,
)
from bot.store.chats import Chats


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """The values a chat's next request will use: its own choices, else the operator's defaults."""

    model: str
    aspect_ratio: str
    image_size: str
    output_format: str
    models: tuple[str, ...]
    # What changed by itself since the chat last looked, to be told once (a tier its model lacks).
    notes: tuple[str, ...] = ()
    conversation: Mode = Mode.SINGLE
    # Someone here chose a preset for their next prompt (/presets): worth trying to take it.
    preset_waiting: bool = False

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
    storage: Chats,
    defaults: BotSettings,
    models: tuple[str, ...],
    chat_id: int,
    current: Callable[[str], str] = str,
) -> ChatSettings:
    """The settings `chat_id` uses now, with `models` the ones it may pick (the default first),
    and `current` the model used for a chosen one that Eden no longer lists (its successor)."""
    chat = await storage.chat(chat_id)
    stored = chat.preferences
    # A stored value that is no longer allowed (the operator changed the models, or Eden stopped
    # listing one) yields its successor, the default, or failing that the first value the model
    # can do.
    chosen = current(stored.model) if stored.model is not None else None
    model = pick(chosen, models[0], models)
    caps = capabilities_for(model)
    image_size = pick(stored.image_size, defaults.default_image_size, caps.image_sizes)
    notes: tuple[str, ...] = ()
    if stored.image_size is not None and stored.image_size not in caps.image_sizes:
        # The chat chose a tier its model (a new one) lacks: the nearest, kept, and said once.
        image_size = nearest_size(stored.image_size, caps.image_sizes)
        await storage.update_preferences(chat_id, image_size=image_size)
        notes = (texts.setting_fell_back(texts.SIZE(), stored.image_size, image_size, model),)
    return ChatSettings(
        model=model,
        aspect_ratio=pick(stored.aspect_ratio, defaults.default_aspect_ratio, caps.aspect_ratios),
        image_size=image_size,
        output_format=pick(stored.output_format, OUTPUT_FORMATS[0], OUTPUT_FORMATS),
        models=models,
        notes=notes,
        conversation=Mode(stored.conversation) if stored.conversation in set(Mode) else Mode.SINGLE,
        preset_waiting=chat.preset_waiting,
    )
