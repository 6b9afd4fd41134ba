"""The studio under a result, through the real bot: "More…" opens vary, zoom out, pan and the
original file in place; each transform sends the result (on a larger canvas where it grows) with
its instruction, as a job of whoever tapped; the original is the result as a PNG, at no cost."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from bot import i18n, texts
from bot.imaging import CANVAS_FILL
from bot.jobs.model import Transform
from bot.jobs.variants import INSTRUCTIONS, MADE_FROM
from tests.conftest import StartBot
from tests.fakes.eden import FakeEden
from tests.fakes.images import jpeg
from tests.fakes.telegram import FakeTelegram, photo_message, text_message
from tests.test_buttons_e2e import (
    ALICE,
    BOB,
    GROUP,
    _age,
    _images,
    _keyboard,
    _prompt,
    _result_in_group,
    _settled,
    _studio,
    _tap,
)

# The fake Eden's drawings are this colour all over; the canvas around them is CANVAS_FILL.
DRAWN = (40, 90, 160)


async def test_more_opens_the_studio_in_place_and_back_restores_the_first_row(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot()
    asked = await telegram.send(text_message(ALICE, "a garden"))
    first = await telegram.reply_to(asked)
    short = _keyboard(first)
    assert list(short) == ["🔁 Again", "×4", "Ratio…", "⬆ 4K", "More…"]

    await _tap(telegram, first.result, short["More…"], ALICE)
    [menu] = await telegram.wait_for("editMessageReplyMarkup")
    assert int(menu.params["message_id"]) == first.result["message_id"]
    studio = _keyboard(menu)
    assert list(studio) == ["Vary (subtle)", "Vary (strong)", "Remix", "Zoom out 1.5×", "Zoom out 2×",
                            "Pan ←", "Pan →", "Pan ↑", "Pan ↓", "📎 Original", "🧩 Sticker", "✨ Enhance",
                            "« Back"]  # fmt: skip
    assert all(len(data.encode()) <= 64 for data in studio.values())

    await _tap(telegram, first.result, studio["« Back"], ALICE)
    back = (await telegram.wait_for("editMessageReplyMarkup", count=2))[1]
    assert _keyboard(back) == short

    # Forged: a transform this bot has not, a transform without a value, a value on More.
    job_id = short["More…"].rsplit("|", 1)[1]
    for data in (f"res|t|{job_id}|zoom_9", f"res|t|{job_id}", f"res|m|{job_id}|x"):
        answer = await _tap(telegram, first.result, data, ALICE)
        assert answer.params["text"] == texts.RESULT_BUTTON_UNKNOWN()
    assert len(eden.calls) == 1


async def test_vary_sends_the_result_with_its_instruction_and_the_tapper_pays(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(GROUP_COOLDOWN_SECONDS="0", DEFAULT_ASPECT_RATIO="16:9")
    first = await _result_in_group(telegram, "a blue heron")
    studio = await _studio(telegram, first, BOB)

    for count, (label, transform) in enumerate(
        [("Vary (subtle)", Transform.VARY_SUBTLE), ("Vary (strong)", Transform.VARY_STRONG)],
        start=2,
    ):
        taken = await _tap(telegram, first.result, studio[label], BOB)
        assert taken.params["text"] == texts.RESULT_BUTTON_TAKEN()
        varied = (await telegram.wait_for("sendPhoto", GROUP, count=count))[-1]
        body = (await eden.wait_for_calls(count))[-1].body
        assert _images(body) == [first.files["photo"]]
        made_from = MADE_FROM.format(prompt="a blue heron")
        assert _prompt(body) == f"{INSTRUCTIONS[transform]}\n\n{made_from}"
        assert body["image_config"] == {"aspect_ratio": "16:9", "image_size": "1K"}
        assert varied.reply_to == first.result["message_id"]
        assert varied.params["caption"].startswith("a blue heron\n\n16:9 · 1K")
        assert varied.files["photo"] == eden.last_image
    assert await _settled(tmp_path, 3) == [
        (ALICE, GROUP, "ok", 1),
        (BOB, GROUP, "ok", 1),
        (BOB, GROUP, "ok", 1),
    ]


async def test_zoom_out_and_pan_put_the_result_on_a_larger_canvas_to_fill(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot()
    asked = await telegram.send(text_message(ALICE, "a mountain hut"))
    first = await telegram.reply_to(asked)
    studio = await _studio(telegram, first, ALICE)
    assert Image.open(io.BytesIO(first.files["photo"])).size == (1024, 1024)

    # label: the canvas, where the original sits on it (left, top), the ratio asked
    expected = {
        "Zoom out 1.5×": ((1536, 1536), (256, 256), "1:1"),
        "Zoom out 2×": ((2048, 2048), (512, 512), "1:1"),
        "Pan ←": ((1536, 1024), (512, 0), "3:2"),
        "Pan →": ((1536, 1024), (0, 0), "3:2"),
        "Pan ↑": ((1024, 1536), (0, 512), "2:3"),
        "Pan ↓": ((1024, 1536), (0, 0), "2:3"),
    }
    made_from = MADE_FROM.format(prompt="a mountain hut")
    for count, (label, (size, (left, top), ratio)) in enumerate(expected.items(), start=2):
        taken = await _tap(telegram, first.result, studio[label], ALICE)
        assert taken.params["text"] == texts.RESULT_BUTTON_TAKEN(), label
        delivered = (await telegram.wait_for("sendPhoto", ALICE, count=count))[-1]
        body = (await eden.wait_for_calls(count))[-1].body
        assert _prompt(body) == f"{INSTRUCTIONS[Transform.ZOOM_2]}\n\n{made_from}"
        assert body["image_config"] == {"aspect_ratio": ratio, "image_size": "1K"}, label
        [sent] = _images(body)
        canvas = Image.open(io.BytesIO(sent)).convert("RGB")
        assert canvas.size == size, label
        # The original, whole and in place; grey everywhere else.
        inside = [(left, top), (left + 1023, top + 1023), (left + 512, top + 512)]
        assert [canvas.getpixel(p) for p in inside] == [DRAWN] * 3, label
        outside = [
            (x, y)
            for x, y in [(left - 1, top), (left + 1024, top), (left, top - 1), (left, top + 1024)]
            if 0 <= x < size[0] and 0 <= y < size[1]
        ]
        assert outside, label
        assert [canvas.getpixel(p) for p in outside] == [CANVAS_FILL] * len(outside), label
        assert delivered.params["caption"].startswith(f"a mountain hut\n\n{ratio} · 1K"), label
    assert len(await _settled(tmp_path, 7)) == 7


async def test_original_sends_the_result_as_a_png_file_without_an_upstream_call(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(GROUP_COOLDOWN_SECONDS="0", USER_DAILY_IMAGES="1")
    first = await _result_in_group(telegram, "a paper boat")
    studio = await _studio(telegram, first, BOB)
    await _settled(tmp_path, 1)

    # Free: Alice has used her one image of the day, and still gets her original.
    answer = await _tap(telegram, first.result, studio["📎 Original"], ALICE)
    assert "text" not in answer.params
    [document] = await telegram.wait_for("sendDocument", GROUP)
    assert document.reply_to == first.result["message_id"]
    assert document.filenames["document"].endswith(".png")
    assert document.files["document"] == first.files["photo"]  # already a PNG: the same bytes
    assert len(eden.calls) == 1
    assert await _settled(tmp_path, 1) == [(ALICE, GROUP, "ok", 1)]


async def test_remix_asks_in_the_tappers_language_and_their_reply_remixes_picture_and_inputs(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(DEFAULT_ASPECT_RATIO="4:3")
    photo = jpeg(800, 600)
    asked = await telegram.send(
        photo_message(ALICE, [(telegram.add_file(photo), 800, 600, len(photo))], "make it snowy")
    )
    first = await telegram.reply_to(asked)
    more = _keyboard(first)["More…"]
    await telegram.press(first.result, more, ALICE)
    [menu] = await telegram.wait_for("editMessageReplyMarkup")

    query_id = await telegram.press(first.result, _keyboard(menu)["Remix"], ALICE, "ru")
    [question] = await telegram.wait_for("sendMessage", ALICE)
    with i18n.speaking("ru"):
        assert question.params["text"] == texts.REMIX_ASK()
        placeholder = texts.REMIX_PLACEHOLDER()
    assert question.params["reply_markup"] == {
        "force_reply": True,
        "input_field_placeholder": placeholder,
    }
    assert question.reply_to == first.result["message_id"]
    assert any(
        c.params["callback_query_id"] == query_id for c in telegram.sent("answerCallbackQuery")
    )
    assert len(eden.calls) == 1

    reply = await telegram.send(text_message(ALICE, "now at night", reply_to=question.result))
    remixed = await telegram.reply_to(reply)
    body = eden.calls[1].body
    # The new instruction, on the result and the picture it was made from.
    assert _prompt(body) == "now at night"
    assert _images(body) == [first.files["photo"], photo]
    assert body["image_config"] == {"aspect_ratio": "4:3", "image_size": "1K"}
    assert remixed.params["caption"].startswith("now at night\n\n4:3 · 1K")
    assert await _settled(tmp_path, 2) == [(ALICE, ALICE, "ok", 1), (ALICE, ALICE, "ok", 1)]


async def test_a_remix_question_is_answered_only_by_whoever_tapped_and_only_while_kept(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(GROUP_COOLDOWN_SECONDS="0", REQUEST_RETENTION_DAYS="3")
    first = await _result_in_group(telegram, "a lantern")
    await _tap(telegram, first.result, (await _studio(telegram, first, ALICE))["Remix"], ALICE)
    [question] = await telegram.wait_for("sendMessage", GROUP)

    # Bob's reply to Alice's question is an ordinary request of his: no remix, no picture in.
    bobs = await telegram.send(text_message(GROUP, "a kite", BOB, reply_to=question.result))
    await telegram.reply_to(bobs)
    assert _prompt(eden.calls[1].body) == "a kite"
    assert _images(eden.calls[1].body) == []

    await _settled(tmp_path, 2)
    _age(tmp_path, 4)
    late = await telegram.send(text_message(GROUP, "in gold", ALICE, reply_to=question.result))
    told = await telegram.reply_to(late)
    assert told.params["text"] == texts.result_button_expired(3)
    assert len(eden.calls) == 2
