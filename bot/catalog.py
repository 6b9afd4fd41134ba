"""What each Gemini image model can do: aspect ratios, size tiers, input images, output pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass

ASPECT_RATIOS: tuple[str, ...] = (
    "1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "2:3",
    "3:2", "4:5", "5:4", "1:4", "4:1", "1:8", "8:1",
)  # fmt: skip
IMAGE_SIZES: tuple[str, ...] = ("512", "1K", "2K", "4K")
# How results are sent: as a photo (a document past Telegram's photo limits), or always as a file.
OUTPUT_FORMATS: tuple[str, ...] = ("photo", "file")
# Gemini reads these inline; anything else is converted first.
_COMMON_INPUTS = frozenset({"image/png", "image/jpeg", "image/webp"})

# The extreme ratios exist only on Gemini 3.1 Flash Image.
_TEN_RATIOS = tuple(r for r in ASPECT_RATIOS if r not in {"1:4", "4:1", "1:8", "8:1"})


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """The values one model family accepts."""

    family: str
    aspect_ratios: tuple[str, ...]
    image_sizes: tuple[str, ...]
    max_input_images: int
    # Gemini 2.5 Flash Image has a single output tier and no `image_size` parameter.
    sends_image_size: bool = True
    input_mimes: frozenset[str] = _COMMON_INPUTS | {"image/heic", "image/heif"}
    # Google's shutdown date, once it has passed: the id works only while Eden still serves it.
    retired_by_google: str | None = None


GEMINI_25_FLASH = ModelCapabilities(
    "gemini-2.5-flash-image",
    _TEN_RATIOS,
    ("1K",),
    3,
    sends_image_size=False,
    input_mimes=_COMMON_INPUTS,
    retired_by_google="2026-10-02",
)
GEMINI_3_PRO = ModelCapabilities("gemini-3-pro-image", _TEN_RATIOS, ("1K", "2K", "4K"), 14)
GEMINI_31_FLASH = ModelCapabilities("gemini-3.1-flash-image", ASPECT_RATIOS, IMAGE_SIZES, 14)
# An unknown model gets the widest set; the upstream's own error then tells the user what failed.
UNKNOWN_MODEL = ModelCapabilities("unknown", ASPECT_RATIOS, IMAGE_SIZES, 14)

# Keyed by Google's GA ids (since 2026-05-28).
_FAMILIES = {caps.family: caps for caps in (GEMINI_25_FLASH, GEMINI_3_PRO, GEMINI_31_FLASH)}
# Ids Google has shut down (the -preview ones on 2026-06-25), and the GA id that replaced each.
RETIRED_IDS: dict[str, str] = {
    "gemini-3.1-flash-image-preview": GEMINI_31_FLASH.family,
    "gemini-3-pro-image-preview": GEMINI_3_PRO.family,
    "gemini-2.5-flash-image-preview": GEMINI_25_FLASH.family,
}


def successor(model: str) -> str | None:
    """The GA id replacing a retired `model` id, with the same provider prefix; None if current."""
    prefix, _, name = model.rpartition("/")
    replacement = RETIRED_IDS.get(name.lower())
    if replacement is None:
        return None
    return f"{prefix}/{replacement}" if prefix else replacement


def capabilities_for(model: str) -> ModelCapabilities:
    """The capabilities of `model` (an Eden model string such as `google/gemini-3-pro-image`)."""
    name = model.rsplit("/", 1)[-1].lower()
    return _FAMILIES.get(RETIRED_IDS.get(name, name), UNKNOWN_MODEL)


def normalize_ratio(text: str) -> str | None:
    """`text` as one of ASPECT_RATIOS (spaces and `x`/`/` separators tolerated), or None."""
    candidate = text.strip().lower().replace(" ", "").replace("x", ":").replace("/", ":")
    return candidate if candidate in ASPECT_RATIOS else None


def normalize_size(text: str) -> str | None:
    """`text` as one of IMAGE_SIZES (`1k`, `2K`, `512` ...), or None."""
    candidate = text.strip().upper()
    return candidate if candidate in IMAGE_SIZES else None


def normalize_format(text: str) -> str | None:
    """`text` as one of OUTPUT_FORMATS (`document` means `file`), or None."""
    candidate = {"document": "file"}.get(text.strip().lower(), text.strip().lower())
    return candidate if candidate in OUTPUT_FORMATS else None


def pick(chosen: str | None, default: str, allowed: tuple[str, ...]) -> str:
    """The chat's choice if still allowed, else the default if allowed, else the first allowed."""
    if chosen is not None and chosen in allowed:
        return chosen
    return default if default in allowed else allowed[0]


# Output pixels (width, height) from Google's Gemini image table. Gemini 2.5 Flash has its own
# single 1K column.
_PIXELS_25_FLASH: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
    "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
    "16:9": (1344, 768), "21:9": (1536, 672),
}  # fmt: skip
_PIXELS_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200),
    "4:3": (1200, 896), "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376),
    "16:9": (1376, 768), "21:9": (1584, 672), "1:4": (512, 2048), "4:1": (2048, 512),
    "1:8": (384, 3072), "8:1": (3072, 384),
}  # fmt: skip
_PIXELS_512: dict[str, tuple[int, int]] = {
    "1:1": (512, 512), "2:3": (424, 632), "3:2": (632, 424), "3:4": (448, 600),
    "4:3": (600, 448), "4:5": (464, 576), "5:4": (576, 464), "9:16": (384, 688),
    "16:9": (688, 384),
    # Google's table prints 792x168 here, which is not 21:9; 792x336 is.
    "21:9": (792, 336),
    "1:4": (256, 1024), "4:1": (1024, 256), "1:8": (192, 1536), "8:1": (1536, 192),
}  # fmt: skip


def output_pixels(caps: ModelCapabilities, aspect_ratio: str, image_size: str) -> tuple[int, int]:
    """The (width, height) a model produces for a ratio and size tier; 2K and 4K scale 1K."""
    if caps is GEMINI_25_FLASH:
        return _PIXELS_25_FLASH[aspect_ratio]
    if image_size == "512":
        return _PIXELS_512[aspect_ratio]
    width, height = _PIXELS_1K[aspect_ratio]
    scale = {"1K": 1, "2K": 2, "4K": 4}[image_size]
    return width * scale, height * scale


# Google rounds sides to multiples of 8 or 16 (16:9 at 1K is 1376x768, 1.8% off 16/9); a
# gateway that dropped the ratio is off by far more (a square for 16:9 is 78% off).
RATIO_TOLERANCE = 0.03
# Each tier has about four times the pixels of the one below: 512 ~0.26, 1K ~1, 2K ~4, 4K ~17 Mpx.
_TIER_PIXELS = {"512": 512 * 512, "1K": 1024 * 1024, "2K": 2048 * 2048, "4K": 4096 * 4096}


@dataclass(frozen=True, slots=True)
class Shape:
    """A picture's real shape: the ratio and tier it is nearest to, and its pixels."""

    aspect_ratio: str
    image_size: str
    width: int
    height: int


def shape_of(width: int, height: int) -> Shape:
    """The nearest known ratio (or the reduced `w:h` when none is near) and the nearest tier."""
    actual = math.log(width / height)
    nearest = min(ASPECT_RATIOS, key=lambda r: abs(math.log(_ratio_value(r)) - actual))
    if abs(math.log(_ratio_value(nearest)) - actual) > math.log1p(RATIO_TOLERANCE):
        divisor = math.gcd(width, height)
        nearest = f"{width // divisor}:{height // divisor}"
    area = math.log(width * height)
    tier = min(_TIER_PIXELS, key=lambda t: abs(math.log(_TIER_PIXELS[t]) - area))
    return Shape(nearest, tier, width, height)


def nearest_ratio(width: float, height: float, among: tuple[str, ...]) -> str:
    """The ratio of `among` nearest to `width` x `height`."""
    actual = math.log(width / height)
    return min(among, key=lambda r: abs(math.log(_ratio_value(r)) - actual))


def _ratio_value(ratio: str) -> float:
    num, den = ratio.split(":")
    return int(num) / int(den)


# Google's list price per output image in USD: the estimate used when Eden reports no cost.
_PRICES: dict[str, dict[str, float]] = {
    GEMINI_25_FLASH.family: {"1K": 0.039},
    GEMINI_3_PRO.family: {"1K": 0.134, "2K": 0.134, "4K": 0.24},
    GEMINI_31_FLASH.family: {"512": 0.045, "1K": 0.067, "2K": 0.101, "4K": 0.151},
}


def estimated_price(model: str, image_size: str) -> float:
    """What one image is likely to cost; for an unknown model the dearest known price for the size,
    so that a budget errs on the safe side."""
    prices = _PRICES.get(capabilities_for(model).family, {})
    if image_size in prices:
        return prices[image_size]
    return max(table.get(image_size, 0.0) for table in _PRICES.values())
