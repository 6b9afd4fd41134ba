"""What a user sends: an empty prompt, and the photos and files I can't read or use."""

from __future__ import annotations

from bot.i18n import Text, ngettext

__all__ = [
    "BROKEN_IMAGE",
    "DOWNLOAD_FAILED",
    "EMPTY_PROMPT",
    "FIRST_FRAME_ONLY",
    "INPUT_TOO_LARGE",
    "NOT_AN_IMAGE",
    "NOT_AN_IMAGE_FILE",
    "PHOTO_WITHOUT_CAPTION",
    "UNSUPPORTED_MESSAGE",
    "images_left_out",
    "too_many_pixels",
]

PHOTO_WITHOUT_CAPTION = Text(
    "To edit this photo, send it again with a caption saying what to change, "
    "e.g. “make it a watercolor painting”."
)
EMPTY_PROMPT = Text("Tell me what to draw, e.g. “a lighthouse at dusk, oil painting”.")
UNSUPPORTED_MESSAGE = Text(
    "I can only work with text and photos. Describe the picture you want, "
    "or send a photo with a caption saying what to change."
)
NOT_AN_IMAGE = Text(
    "I couldn't read that as an image. Please send a JPEG, PNG, WEBP or HEIC picture."
)
NOT_AN_IMAGE_FILE = Text(
    "That file isn't an image. I can edit JPEG, PNG, WEBP and HEIC pictures, "
    "sent as photos or as files."
)
INPUT_TOO_LARGE = Text(
    "That file is too large for me to download (Telegram's limit for bots is 20 MB)."
)
DOWNLOAD_FAILED = Text("I couldn't download your image from Telegram. Please send it again.")
BROKEN_IMAGE = Text(
    "That image seems to be cut off or damaged, so I couldn't read it. "
    "Please send it again, or another copy of it."
)
FIRST_FRAME_ONLY = Text("Your image is animated: I used its first frame only.")


def images_left_out(used: int, given: int) -> str:
    return ngettext(
        "This model takes at most {used} image, so I used the first {used} of your {given}.",
        "This model takes at most {used} images, so I used the first {used} of your {given}.",
        used,
    ).format(used=used, given=given)


def too_many_pixels(limit: int) -> str:
    megapixels = round(limit / 1e6)
    return ngettext(
        "That image has too many pixels for me: I take up to {megapixels} megapixel. "
        "Please send a smaller version.",
        "That image has too many pixels for me: I take up to {megapixels} megapixels. "
        "Please send a smaller version.",
        megapixels,
    ).format(megapixels=megapixels)
