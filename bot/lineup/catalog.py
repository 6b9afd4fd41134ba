"""The Gemini image models (from models.toml): ratios, tiers, inputs, prices, successors, pixels."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

ASPECT_RATIOS: tuple[str, ...] = (
    "1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "2:3",
    "3:2", "4:5", "5:4", "1:4", "4:1", "1:8", "8:1",
)  # fmt: skip
IMAGE_SIZES: tuple[str, ...] = ("512", "1K", "2K", "4K")
# How results are sent: as a photo (a document past Telegram's photo limits), or always as a file.
OUTPUT_FORMATS: tuple[str, ...] = ("photo", "file")
# Gemini reads these inline; anything else is converted first.
_COMMON_INPUTS = frozenset({"image/png", "image/jpeg", "image/webp"})
_GEMINI_3_INPUTS = _COMMON_INPUTS | {"image/heic", "image/heif"}
# The lineup shipped with the bot; MODELS_FILE may name an operator's copy instead.
BUILTIN_MODELS_FILE = Path(__file__).with_name("models.toml")


class Status(StrEnum):
    """Where a model stands with Google."""

    GA = "ga"
    DEPRECATED = "deprecated"
    RETIRED = "retired"  # shut down: its id answers no more


class PixelTable(StrEnum):
    """Which of Google's output-pixel tables a model follows."""

    GEMINI_3 = "gemini-3"
    GEMINI_25 = "gemini-2.5"


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What one model accepts and costs, and where it stands (a row of models.toml)."""

    family: str
    aspect_ratios: tuple[str, ...]
    image_sizes: tuple[str, ...]
    max_input_images: int
    # Gemini 2.5 Flash Image has a single output tier and no `image_size` parameter.
    sends_image_size: bool = True
    input_mimes: frozenset[str] = _GEMINI_3_INPUTS
    # Google's list price per image, by tier.
    prices: Mapping[str, float] = field(default_factory=dict, hash=False)
    name: str = ""
    status: Status = Status.GA
    released: str | None = None
    deprecated: str | None = None
    shutdown: str | None = None
    successor: str | None = None
    pixels: PixelTable = PixelTable.GEMINI_3


# An unknown model gets the widest set; the upstream's own error then tells the user what failed.
UNKNOWN_MODEL = ModelCapabilities("unknown", ASPECT_RATIOS, IMAGE_SIZES, 14)


class ModelsFileError(ValueError):
    """A models file that cannot be used; the message names the model and field."""


@dataclass(frozen=True, slots=True)
class Lineup:
    """Every known model by its id (lower case, without a provider prefix), and the file read."""

    models: Mapping[str, ModelCapabilities]
    source: Path

    def get(self, model: str) -> ModelCapabilities | None:
        return self.models.get(_bare(model))


_FIELDS = {
    "id", "name", "status", "released", "deprecated", "shutdown", "successor", "ratios",
    "sizes", "max_input_images", "sends_image_size", "input_mimes", "pixels", "prices",
}  # fmt: skip


def load_lineup(path: Path) -> Lineup:
    """The models in a models file (see bot/lineup/models.toml), checked; ModelsFileError if
    wrong."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelsFileError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelsFileError(f"{path} is not valid TOML: {exc}") from None
    rows = document.get("model")
    if not isinstance(rows, list) or not rows:
        raise ModelsFileError(f"{path} lists no [[model]]")
    models: dict[str, ModelCapabilities] = {}
    for row in rows:
        caps = _read_model(row)
        if caps.family in models:
            raise ModelsFileError(f"{caps.family} is listed twice")
        models[caps.family] = caps
    for caps in models.values():
        if caps.successor is not None and caps.successor not in models:
            raise ModelsFileError(f"{caps.family}: successor {caps.successor} is not listed")
        _chain_of(models, caps.family)  # raises on a loop
    return Lineup(models, path)


def _read_model(row: Any) -> ModelCapabilities:
    if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not row["id"].strip():
        raise ModelsFileError("a [[model]] without an id")
    model = _bare(row["id"])
    if "/" in row["id"].strip():
        raise ModelsFileError(f"{row['id']}: write the id without the `google/` prefix")

    def problem(what: str) -> ModelsFileError:
        return ModelsFileError(f"{model}: {what}")

    if unknown := set(row) - _FIELDS:
        raise problem(f"unknown field(s) {', '.join(sorted(unknown))}")
    ratios: Any = row.get("ratios")
    sizes: Any = row.get("sizes")
    if not _strings(ratios) or not set(ratios) <= set(ASPECT_RATIOS):
        raise problem(f"ratios must be a list out of {' '.join(ASPECT_RATIOS)}")
    if not _strings(sizes) or tuple(sizes) != tuple(s for s in IMAGE_SIZES if s in sizes):
        raise problem(f"sizes must be a list out of {' '.join(IMAGE_SIZES)}, smallest first")
    max_inputs = row.get("max_input_images")
    if not isinstance(max_inputs, int) or isinstance(max_inputs, bool) or max_inputs < 1:
        raise problem("max_input_images must be a whole number of at least 1")
    prices: Any = row.get("prices")
    if not isinstance(prices, dict) or set(prices) != set(sizes):
        raise problem(f"prices must give a price for each size: {' '.join(sizes)}")
    for size, price in prices.items():
        if not isinstance(price, int | float) or isinstance(price, bool) or not 0 < price < 10:
            raise problem(f"price for {size} must be a number of dollars above 0")
    mimes = row.get("input_mimes", sorted(_GEMINI_3_INPUTS))
    if not _strings(mimes) or not all(m.startswith("image/") for m in mimes):
        raise problem("input_mimes must be a list of image/... types")
    sends = row.get("sends_image_size", True)
    if not isinstance(sends, bool):
        raise problem("sends_image_size must be true or false")
    try:
        status = Status(row.get("status", Status.GA))
        pixels = PixelTable(row.get("pixels", PixelTable.GEMINI_3))
    except ValueError as exc:
        raise problem(str(exc)) from None
    dates = {key: row.get(key) for key in ("released", "deprecated", "shutdown")}
    for key, value in dates.items():
        if value is not None and not (isinstance(value, str) and _is_date(value)):
            raise problem(f"{key} must be a date written YYYY-MM-DD, in quotes")
    successor = row.get("successor")
    if successor is not None and not (isinstance(successor, str) and successor.strip()):
        raise problem("successor must be a model id")
    if status is Status.RETIRED and successor is None:
        raise problem("a retired model needs a successor")
    name = row.get("name", "")
    return ModelCapabilities(
        model,
        tuple(r for r in ASPECT_RATIOS if r in ratios),
        tuple(sizes),
        max_inputs,
        sends_image_size=sends,
        input_mimes=frozenset(mimes),
        prices={size: float(price) for size, price in prices.items()},
        name=name if isinstance(name, str) else "",
        status=status,
        released=dates["released"],
        deprecated=dates["deprecated"],
        shutdown=dates["shutdown"],
        successor=_bare(successor) if successor else None,
        pixels=pixels,
    )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _bare(model: str) -> str:
    return model.strip().rsplit("/", 1)[-1].lower()


def _chain_of(models: Mapping[str, ModelCapabilities], model: str) -> list[str]:
    """The successors of `model`, nearest first."""
    chain: list[str] = []
    current = models.get(model)
    while current is not None and current.successor is not None:
        if current.successor in chain or current.successor == model:
            raise ModelsFileError(f"the successors of {model} go round in a loop")
        chain.append(current.successor)
        current = models.get(current.successor)
    return chain


def describe_changes(builtin: Lineup, other: Lineup) -> list[str]:
    """What `other` changes against `builtin`, one line per model added, removed or changed."""
    changes = [f"adds {m}" for m in other.models if m not in builtin.models]
    changes += [f"drops {m}" for m in builtin.models if m not in other.models]
    for model, mine in other.models.items():
        theirs = builtin.models.get(model)
        if theirs is None or theirs == mine:
            continue
        fields = [
            f.name
            for f in dataclasses.fields(mine)
            if getattr(mine, f.name) != getattr(theirs, f.name)
        ]
        changes.append(f"changes {model}: {', '.join(fields)}")
    return changes


_lineup = load_lineup(BUILTIN_MODELS_FILE)


def use_lineup(lineup: Lineup) -> None:
    """Make `lineup` the one every model question is answered from (MODELS_FILE, at start)."""
    global _lineup
    _lineup = lineup


def current_lineup() -> Lineup:
    return _lineup


def _with_prefix(model: str, name: str) -> str:
    """`name` with `model`'s provider prefix (`google/`)."""
    prefix, _, _ = model.strip().rpartition("/")
    return f"{prefix}/{name}" if prefix else name


def successor(model: str) -> str | None:
    """The id replacing `model` if Google has shut it down (a retired id, which can only fail),
    following the chain to the first model that is not retired; None if it is not retired."""
    caps = _lineup.get(model)
    if caps is None or caps.status is not Status.RETIRED:
        return None
    for name in _chain_of(_lineup.models, caps.family):
        if _lineup.models[name].status is not Status.RETIRED:
            return _with_prefix(model, name)
    return None


def successors(model: str) -> list[str]:
    """Every model that replaces `model`, nearest first, with its provider prefix."""
    return [_with_prefix(model, name) for name in _chain_of(_lineup.models, _bare(model))]


def predecessors(model: str) -> list[str]:
    """The models `model` replaced that Google still serves, newest first (the nearest in the
    chain), with its provider prefix."""
    found: list[str] = []
    wanted = [_bare(model)]
    while wanted:
        target = wanted.pop(0)
        for name, caps in _lineup.models.items():
            if caps.successor == target and name not in found:
                found.append(name)
                wanted.append(name)
    return [
        _with_prefix(model, name)
        for name in found
        if _lineup.models[name].status is not Status.RETIRED
    ]


def capabilities_for(model: str) -> ModelCapabilities:
    """The capabilities of `model` (an Eden model string such as `google/gemini-3-pro-image`)."""
    return _lineup.get(model) or UNKNOWN_MODEL


def nearest_size(size: str, sizes: tuple[str, ...]) -> str:
    """The tier out of `sizes` nearest to `size` (the smaller on a tie: it costs less)."""
    if size in sizes or size not in IMAGE_SIZES:
        return size if size in sizes else sizes[0]
    rank = IMAGE_SIZES.index(size)
    return min(sizes, key=lambda s: (abs(IMAGE_SIZES.index(s) - rank), IMAGE_SIZES.index(s)))


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
    if caps.pixels is PixelTable.GEMINI_25:
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


def estimated_price(model: str, image_size: str) -> float:
    """What one image is likely to cost (Google's list price); for an unknown model the dearest
    known price for the size, so that a budget errs on the safe side."""
    prices = capabilities_for(model).prices
    if image_size in prices:
        return prices[image_size]
    return max((caps.prices.get(image_size, 0.0) for caps in _lineup.models.values()), default=0.0)
