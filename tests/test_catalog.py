"""The model table: capabilities per family, input normalisation, and Google's pixel table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.chat_settings import ChatSettings
from bot.domain import Order, Outcome
from bot.jobs.model import Job, Requester, Transform
from bot.jobs.variants import upstream_request
from bot.lineup.availability import ModelAvailability
from bot.lineup.catalog import (
    ASPECT_RATIOS,
    BUILTIN_MODELS_FILE,
    IMAGE_SIZES,
    ModelsFileError,
    capabilities_for,
    current_lineup,
    describe_changes,
    load_lineup,
    nearest_size,
    normalize_ratio,
    normalize_size,
    output_pixels,
    predecessors,
    successor,
    successors,
)
from bot.telegram.handlers.buttons import _again
from bot.telegram.result_buttons import ButtonKind, ResultButton
from bot.upstream import chat, images

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
        ("google/gemini-nano-banana-2.1", 14, ("1K", "2K", "4K"), 14),
        ("google/gemini-3.1-flash-lite-image", 10, ("1K",), 14),
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
    from bot.lineup.catalog import pick

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
        ("google/gemini-nano-banana-2.1", "1K", 0.0336),
        ("google/gemini-nano-banana-2.1", "2K", 0.0504),
        ("google/gemini-nano-banana-2.1", "4K", 0.1134),
        ("google/gemini-3.1-flash-lite-image", "1K", 0.034),
        ("acme/unknown-image-model", "1K", 0.134),
    ],
)
def test_estimated_prices(model: str, size: str, price: float) -> None:
    from bot.lineup.catalog import estimated_price

    assert estimated_price(model, size) == pytest.approx(price)


# ---- the lineup as data (bot/lineup/models.toml) --------------------------------------------
def test_the_successor_chains() -> None:
    assert successor("google/gemini-3.1-flash-image-preview") == "google/gemini-3.1-flash-image"
    assert successor("gemini-3-pro-image-preview") == "gemini-3-pro-image"
    assert successor("google/gemini-3.1-flash-image") is None  # deprecated, not shut down
    assert successors("google/gemini-3.1-flash-image-preview") == [
        "google/gemini-3.1-flash-image",
        "google/gemini-nano-banana-2.1",
    ]
    # Newest first, and never an id Google shut down.
    assert predecessors("google/gemini-nano-banana-2.1") == ["google/gemini-3.1-flash-image"]
    assert successors("google/gemini-nano-banana-2.1") == []


@pytest.mark.parametrize(
    ("size", "sizes", "nearest"),
    [("512", ("1K", "2K", "4K"), "1K"), ("4K", ("1K",), "1K"), ("2K", ("1K", "4K"), "1K"),
     ("2K", ("512", "1K", "2K", "4K"), "2K"), ("1K", ("2K", "4K"), "2K")],
)  # fmt: skip
def test_nearest_size(size: str, sizes: tuple[str, ...], nearest: str) -> None:
    assert nearest_size(size, sizes) == nearest


_ONE_MODEL = """
[[model]]
id = "gemini-next-image"
status = "ga"
ratios = ["1:1", "16:9"]
sizes = ["1K", "2K"]
max_input_images = 4
prices = { "1K" = 0.03, "2K" = 0.05 }
"""


def test_an_operators_file_adds_a_model(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(BUILTIN_MODELS_FILE.read_text() + _ONE_MODEL)
    lineup = load_lineup(path)
    caps = lineup.models["gemini-next-image"]
    assert (caps.aspect_ratios, caps.image_sizes, caps.max_input_images) == (
        ("1:1", "16:9"),
        ("1K", "2K"),
        4,
    )
    assert caps.input_mimes == frozenset(
        {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
    )
    assert describe_changes(load_lineup(BUILTIN_MODELS_FILE), lineup) == ["adds gemini-next-image"]


def test_changes_against_the_built_in_file_are_named(tmp_path: Path) -> None:
    text = BUILTIN_MODELS_FILE.read_text()
    changed = text.replace('"1K" = 0.0336', '"1K" = 0.03', 1)
    start = changed.index('[[model]]\nid = "gemini-2.5-flash-image-preview"')
    path = tmp_path / "models.toml"
    path.write_text(changed[:start])
    assert describe_changes(load_lineup(BUILTIN_MODELS_FILE), load_lineup(path)) == [
        "drops gemini-2.5-flash-image-preview",
        "changes gemini-nano-banana-2.1: prices",
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('sizes = ["1K", "2K"]', 'sizes = ["2K", "1K"]'), "smallest first"),
        (('sizes = ["1K", "2K"]', 'sizes = ["1K", "8K"]'), "sizes must be a list out of"),
        (('ratios = ["1:1", "16:9"]', 'ratios = ["7:3"]'), "ratios must be a list out of"),
        (('"2K" = 0.05 }', '"4K" = 0.05 }'), "a price for each size: 1K 2K"),
        (('"2K" = 0.05', '"2K" = -1'), "price for 2K must be a number of dollars above 0"),
        (('status = "ga"', 'status = "beta"'), "'beta' is not a valid Status"),
        (('status = "ga"', 'status = "retired"'), "a retired model needs a successor"),
        (('status = "ga"', 'successor = "gemini-gone"'), "successor gemini-gone is not listed"),
        (('status = "ga"', 'successor = "gemini-next-image"'), "go round in a loop"),
        (('status = "ga"', 'released = "6 Oct"'), "released must be a date written YYYY-MM-DD"),
        (('status = "ga"', 'colour = "yellow"'), "unknown field(s) colour"),
        (("max_input_images = 4", "max_input_images = 0"), "max_input_images must be"),
        (('id = "gemini-next-image"', 'id = "google/gemini-next-image"'), "without the"),
        (("[[model]]", "[[model]"), "is not valid TOML"),
    ],
)
def test_a_wrong_models_file_is_refused_with_what_is_wrong(
    tmp_path: Path, change: tuple[str, str], problem: str
) -> None:
    old, new = change
    assert old in _ONE_MODEL
    path = tmp_path / "models.toml"
    path.write_text(_ONE_MODEL.replace(old, new))
    with pytest.raises(ModelsFileError) as caught:
        load_lineup(path)
    assert problem in str(caught.value)


def test_a_models_file_that_is_missing_or_empty_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelsFileError, match="cannot read"):
        load_lineup(tmp_path / "nowhere.toml")
    (tmp_path / "empty.toml").write_text("# nothing\n")
    with pytest.raises(ModelsFileError, match="lists no"):
        load_lineup(tmp_path / "empty.toml")


# ---- per-model tiers everywhere --------------------------------------------------------------
_RESULT_BUTTONS = (
    ButtonKind.AGAIN,
    ButtonKind.FOUR,
    ButtonKind.RATIO,
    ButtonKind.LARGER,
    ButtonKind.TRANSFORM,
)


@pytest.mark.parametrize(
    ("model", "tier", "kind"),
    [
        (f"google/{model}", tier, kind)
        for model in current_lineup().models
        for tier in IMAGE_SIZES
        for kind in _RESULT_BUTTONS
    ],
)
async def test_no_button_sends_a_tier_the_model_lacks(
    model: str, tier: str, kind: ButtonKind
) -> None:
    """Whatever tier a stored job holds (a job from before its model changed), every button
    under its result makes a request that names only a tier the model has."""
    caps = capabilities_for(model)
    who = Requester(1, 1)
    job = Job(
        id=7,
        who=who,
        order=Order("a fox", model, caps.aspect_ratios[0], tier),
        output_format="photo",
        file_ids=(),
        estimated_cost_usd=0.0,
        created_at=datetime.now(UTC),
        outcome=Outcome.OK,
        result_file_id="result",
    )
    value = {ButtonKind.RATIO: caps.aspect_ratios[-1], ButtonKind.TRANSFORM: Transform.PAN_LEFT}
    button = ResultButton(kind, job.id, value.get(kind))
    submission = _again(job, button, who)
    if submission is None:
        assert kind is ButtonKind.LARGER  # nothing larger than the largest tier
        return
    request = await upstream_request(submission.order, submission.options, (), None)
    assert request.image_size in caps.image_sizes
    for protocol in (chat, images):
        body = protocol.body(request)
        sent = {body.get("image_size"), body["image_config"].get("image_size")} - {None}
        assert sent <= set(caps.image_sizes), (protocol.NAME, sent)
        assert sent or not caps.sends_image_size


def test_the_size_keyboard_follows_the_chats_model() -> None:
    for model, caps in current_lineup().models.items():
        chat = ChatSettings(f"google/{model}", "1:1", caps.image_sizes[0], "photo", ())
        assert chat.choices("image_size") == caps.image_sizes
    assert "512" not in capabilities_for("google/gemini-nano-banana-2.1").image_sizes


async def test_each_refresh_follows_the_chain_and_warns_once_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flash, pro, banana = (
        "google/gemini-3.1-flash-image",
        "google/gemini-3-pro-image",
        "google/gemini-nano-banana-2.1",
    )
    listed = [flash, pro]

    async def list_models() -> list[str]:
        return list(listed)

    availability = ModelAvailability(list_models, (flash, pro))
    await availability.refresh()
    assert (availability.offered(), availability.status()) == ((flash, pro), "ok")
    listed[:] = [banana]  # Eden retired 3.1 Flash and 3 Pro
    for _ in range(2):
        await availability.refresh()
    assert availability.current(flash) == banana
    assert availability.current(pro) == pro  # nothing replaces it: it stays, and fails
    assert availability.offered() == (banana,)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"{pro} is not in Eden's model list, nor is any model that replaces it: its requests fail "
        "until the operator chooses another in EDENAI_MODEL / ALLOWED_MODELS "
        "(`python -m bot check`)",
        f"{flash} is not in Eden's model list (retired or renamed): using its successor {banana} "
        f"(write {banana} in EDENAI_MODEL / ALLOWED_MODELS to silence this)",
    ]
    assert availability.status() == "; ".join(warnings)
    listed[:] = [flash, pro, banana]
    await availability.refresh()
    assert (availability.offered(), availability.status()) == ((flash, pro), "ok")
