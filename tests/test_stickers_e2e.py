"""The 🧩 Sticker button through the real bot: the result, cut to Telegram's static-sticker format
with its flat background made transparent, goes into the tapper's own set, created on first use,
extended after, followed by a new one when full; a user who never started the bot is told."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from PIL import Image, ImageDraw

from bot import texts
from tests.conftest import StartBot
from tests.fakes.database import rows
from tests.fakes.eden import FakeEden
from tests.fakes.telegram import (
    BOT_USERNAME,
    SET_LIMIT,
    Call,
    FakeTelegram,
    text_message,
)
from tests.test_buttons_e2e import _studio, _tap

ALICE, BOB = 1001, 1002
GROUP = -100900
GREEN, RED = (0, 255, 0), (220, 30, 30)


def _on_green(width: int, height: int) -> bytes:
    """What the sticker preset asks the model for: a subject on a flat green background."""
    image = Image.new("RGB", (width, height), GREEN)
    side = min(width, height) // 2
    left, top = (width - side) // 2, (height - side) // 2
    ImageDraw.Draw(image).ellipse((left, top, left + side, top + side), fill=RED)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _alpha(image: Image.Image, xy: tuple[int, int]) -> int:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel[3]


def _quarters(width: int, height: int) -> bytes:
    """A picture with no flat background: each quarter another colour."""
    image = Image.new("RGB", (width, height), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 2, 0, width, height // 2), fill=(200, 180, 20))
    draw.rectangle((0, height // 2, width // 2, height), fill=(20, 160, 60))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


async def _sticker_button(telegram: FakeTelegram, call: Call) -> str:
    """The 🧩 Sticker button, in the studio that More… opens in place under the result."""
    return (await _studio(telegram, call, ALICE))["🧩 Sticker"]


async def _result(
    telegram: FakeTelegram, tmp_path: Path, chat_id: int, prompt: str, user_id: int
) -> Call:
    """The bot's picture for `prompt`, once its job has recorded it (the button's input)."""
    photo = await telegram.answer(text_message(chat_id, prompt, user_id))
    kept = "SELECT COUNT(*) FROM requests WHERE result_file_id = ?"
    file_id = photo.result["photo"][-1]["file_id"]
    for _ in range(100):
        if rows(tmp_path, kept, file_id) == [(1,)]:
            break
        await asyncio.sleep(0.05)
    return photo


async def test_a_result_becomes_a_transparent_sticker_in_a_set_created_then_extended(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.image = _on_green(1024, 768)
    await start_bot()
    first = await _result(telegram, tmp_path, ALICE, "/p sticker a red ball", ALICE)

    answer = await _tap(telegram, first.result, await _sticker_button(telegram, first), ALICE)
    assert answer.params["text"] == texts.STICKER_ADDED()
    name = f"u{ALICE}_by_{BOT_USERNAME}"
    [created] = telegram.sent("createNewStickerSet")
    assert created.params["name"] == name
    assert created.params["title"] == f"Pictures from @{BOT_USERNAME}"
    [sticker] = created.params["stickers"]
    assert (sticker["format"], sticker["emoji_list"]) == ("static", ["🎨"])
    link = await telegram.wait_for("sendMessage", ALICE)
    assert link[0].params["text"] == texts.sticker_set_link(f"https://t.me/addstickers/{name}")
    assert link[0].reply_to == first.result["message_id"]

    [made] = telegram.sticker_sets[name].stickers
    image = Image.open(io.BytesIO(made))
    assert image.format == "PNG" and image.size == (512, 384)
    assert len(made) <= 512 * 1024
    # The green is gone as far as it reaches from the corners; the ball stays, opaque.
    rgba = image.convert("RGBA")
    for corner in ((0, 0), (511, 0), (0, 383), (511, 383), (30, 192), (256, 20)):
        assert _alpha(rgba, corner) == 0, corner
    assert rgba.getpixel((256, 192)) == (*RED, 255)

    # A second picture extends the same set.
    eden.image = _on_green(768, 1024)
    second = await _result(telegram, tmp_path, ALICE, "a blue ball", ALICE)
    await _tap(telegram, second.result, await _sticker_button(telegram, second), ALICE)
    [added] = await telegram.wait_for("addStickerToSet")
    assert added.params["name"] == name
    assert len(telegram.sticker_sets[name].stickers) == 2
    assert len(telegram.sent("createNewStickerSet")) == 1
    assert rows(tmp_path, "SELECT user_id, number, stickers FROM sticker_sets") == [(ALICE, 1, 2)]


async def test_a_full_set_is_followed_by_a_new_one_and_strangers_to_the_bot_are_told(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.image = _quarters(600, 900)
    await start_bot(GROUP_COOLDOWN_SECONDS="0")
    # A photo without a flat background stays whole, and is shrunk to 512 on its long side.
    first = await _result(telegram, tmp_path, ALICE, "a landscape", ALICE)
    await _tap(telegram, first.result, await _sticker_button(telegram, first), ALICE)
    name = f"u{ALICE}_by_{BOT_USERNAME}"
    await telegram.wait_for("sendMessage", ALICE)
    image = Image.open(io.BytesIO(telegram.sticker_sets[name].stickers[0])).convert("RGBA")
    assert image.size == (341, 512) and _alpha(image, (0, 0)) == 255

    # Telegram says the set is full (stickers came into it some other way): a second set.
    eden.image = _quarters(900, 600)
    wide = await _result(telegram, tmp_path, ALICE, "a wide landscape", ALICE)
    telegram.sticker_sets[name].stickers += [b"older"] * (SET_LIMIT - 1)
    await _tap(telegram, wide.result, await _sticker_button(telegram, wide), ALICE)
    await telegram.wait_for("createNewStickerSet", count=2)
    second = f"u{ALICE}_2_by_{BOT_USERNAME}"
    assert telegram.sent("createNewStickerSet")[1].params["title"] == (
        f"Pictures from @{BOT_USERNAME} 2"
    )
    assert len(telegram.sticker_sets[second].stickers) == 1
    [_, link] = await telegram.wait_for("sendMessage", ALICE, count=2)
    assert link.params["text"].endswith(f"https://t.me/addstickers/{second}")

    # Bob taps under a group result but never opened a private chat with the bot.
    eden.image = _quarters(700, 700)
    in_group = await _result(telegram, tmp_path, GROUP, f"@{BOT_USERNAME} a fox", ALICE)
    refused = await _tap(telegram, in_group.result, await _sticker_button(telegram, in_group), BOB)
    assert refused.params["text"] == texts.sticker_start_first(BOT_USERNAME)
    assert refused.params["show_alert"] == "true"
    assert not [s for s in telegram.sticker_sets.values() if s.owner == BOB]
    # Alice, who has, gets hers; the link comes to her private chat, not to the group.
    await _tap(telegram, in_group.result, await _sticker_button(telegram, in_group), ALICE)
    await telegram.wait_for("sendMessage", ALICE, count=3)
    assert len(telegram.sticker_sets[second].stickers) == 2
    assert rows(tmp_path, "SELECT user_id, number, stickers FROM sticker_sets") == [(ALICE, 2, 2)]
