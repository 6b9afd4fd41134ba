"""The text model's jobs: the instruction for /describe (a prompt that would draw a picture) and
for /enhance (a short prompt made detailed), and the request that carries it."""

from __future__ import annotations

from bot.domain import Order, Picture, TextRequest
from bot.jobs.model import Words

# For the model, not the user. Short enough for Telegram's copy button (256 characters).
DESCRIBE_INSTRUCTION = (
    "Write one prompt for an image generation model that would recreate this picture: its "
    "subject, setting, composition, style, colours and lighting. Answer with the prompt only, "
    "in English, in at most 240 characters."
)
ENHANCE_INSTRUCTION = (
    "Rewrite this short prompt for an image generation model into a detailed one: keep its "
    "meaning, and add subject details, setting, composition, style, lighting and mood. Answer "
    "with the prompt only, in at most 240 characters, in the language of the prompt.\n\n"
    "Prompt: {prompt}"
)


def text_request(order: Order, words: Words, pictures: tuple[Picture, ...]) -> TextRequest:
    if words is Words.DESCRIBE:
        return TextRequest(DESCRIBE_INSTRUCTION, order.model, pictures)
    return TextRequest(ENHANCE_INSTRUCTION.format(prompt=order.prompt), order.model)
