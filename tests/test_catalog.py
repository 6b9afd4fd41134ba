"""The model table: capabilities per family, input normalisation, and Google's pixel table."""

from __future__ import annotations

import pytest

from bot.catalog import (
    ASPECT_RATIOS,
    IMAGE_SIZES,
    capabilities_for,
    normalize_ratio,
    normalize_size,
    output_pixels,
)

# Copied from Google's table (shared/reference/upstream-facts.md, section 2), not computed, so a
# wrong formula in the catalog shows up here. 21:9 at 512 is the corrected 792x336.
GOOGLE_TABLE = """
ratio 2.5flash 512 1K 2K 4K
1:1 1024x1024 512x512 1024x1024 2048x2048 4096x4096
2:3 832x1248 424x632 848x1264 1696x2528 3392x5056
3:2 1248x832 632x424 1264x848 2528x1696 5056x3392
3:4 864x1184 448x600 896x1200 1792x2400 3584x4800
4:3 1184x864 600x448 1200x896 2400x1792 4800x3584
4:5 896x1152 464x576 928x1152 1856x2304 3712x4608
5:4 1152x896 576x464 1152x928 2304x1856 4608x3712
9:16 768x1344 384x688 768x1376 1536x2752 3072x5504
16:9 1344x768 688x384 1376x768 2752x1536 5504x3072
21:9 1536x672 792x336 1584x672 3168x1344 6336x2688
1:4 - 256x1024 512x2048 1024x4096 2048x8192
4:1 - 1024x256 2048x512 4096x1024 8192x2048
1:8 - 192x1536 384x3072 768x6144 1536x12288
8:1 - 1536x192 3072x384 6144x768 12288x1536
"""


def _table() -> list[tuple[str, str, str]]:
    lines = GOOGLE_TABLE.strip().splitlines()
    columns = lines[0].split()[1:]
    return [
        (row.split()[0], column, cell)
        for row in lines[1:]
        for column, cell in zip(columns, row.split()[1:], strict=True)
        if cell != "-"
    ]


@pytest.mark.parametrize(("ratio", "column", "pixels"), _table())
def test_output_pixels_match_googles_table(ratio: str, column: str, pixels: str) -> None:
    if column == "2.5flash":
        caps, size = capabilities_for("google/gemini-2.5-flash-image"), "1K"
    else:
        caps, size = capabilities_for("google/gemini-3.1-flash-image-preview"), column
    width, height = output_pixels(caps, ratio, size)
    assert f"{width}x{height}" == pixels


@pytest.mark.parametrize(
    ("model", "ratios", "sizes", "max_images"),
    [
        ("google/gemini-2.5-flash-image", 10, ("1K",), 3),
        ("google/gemini-3-pro-image-preview", 10, ("1K", "2K", "4K"), 14),
        ("google/gemini-3-pro-image", 10, ("1K", "2K", "4K"), 14),
        ("google/gemini-3.1-flash-image-preview", 14, IMAGE_SIZES, 14),
        ("google/gemini-3.1-flash-image", 14, IMAGE_SIZES, 14),
        ("someone/brand-new-model", 14, IMAGE_SIZES, 14),
    ],
)
def test_capabilities_per_family(
    model: str, ratios: int, sizes: tuple[str, ...], max_images: int
) -> None:
    caps = capabilities_for(model)
    assert len(caps.aspect_ratios) == ratios
    assert caps.image_sizes == sizes
    assert caps.max_input_images == max_images


def test_gemini_25_lacks_the_extreme_ratios() -> None:
    caps = capabilities_for("google/gemini-2.5-flash-image")
    assert not {"1:4", "4:1", "1:8", "8:1"} & set(caps.aspect_ratios)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("16:9", "16:9"), (" 16 : 9 ", "16:9"), ("16x9", "16:9"), ("21/9", "21:9"), ("7:3", None),
     ("", None), ("banana", None), ("1:1:1", None)],
)  # fmt: skip
def test_normalize_ratio(text: str, expected: str | None) -> None:
    assert normalize_ratio(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1k", "1K"), ("2K", "2K"), ("4k", "4K"), ("512", "512"), ("8K", None), ("1024", None),
     ("", None)],
)  # fmt: skip
def test_normalize_size(text: str, expected: str | None) -> None:
    assert normalize_size(text) == expected


def test_every_ratio_is_listed_once() -> None:
    assert len(set(ASPECT_RATIOS)) == len(ASPECT_RATIOS) == 14


def test_pick_falls_back_to_the_default_then_the_first_allowed() -> None:
    from bot.catalog import pick

    assert pick("16:9", "1:1", ("1:1", "16:9")) == "16:9"
    assert pick("8:1", "1:1", ("1:1", "16:9")) == "1:1"
    assert pick(None, "4K", ("1K",)) == "1K"


@pytest.mark.parametrize(
    ("model", "size", "price"),
    [
        ("google/gemini-2.5-flash-image", "1K", 0.039),
        ("google/gemini-3.1-flash-image-preview", "512", 0.045),
        ("google/gemini-3.1-flash-image", "4K", 0.151),
        ("google/gemini-3-pro-image-preview", "2K", 0.134),
        ("google/gemini-3-pro-image", "4K", 0.24),
        ("acme/unknown-image-model", "1K", 0.134),
    ],
)
def test_estimated_prices(model: str, size: str, price: float) -> None:
    from bot.catalog import estimated_price

    assert estimated_price(model, size) == pytest.approx(price)
