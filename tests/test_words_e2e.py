"""/describe and /enhance through the real bot: the text model (Eden's chat completions) gets
the photo or the short prompt, its prompt comes back with "Draw this" and a copy button, "Draw
this" draws it, and the text model's cost is in the ledger and budgets, not the image count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot import texts
from bot.jobs.words import DESCRIBE_INSTRUCTION, ENHANCE_INSTRUCTION
from tests.conftest import StartBot
from tests.fakes.database import rows
from tests.fakes.eden import FakeEden
from tests.fakes.images import jpeg
from tests.fakes.telegram import Call, FakeTelegram, photo_message, text_message
from tests.test_buttons_e2e import ALICE, _images, _keyboard, _prompt, _settled, _studio, _tap

TEXT_MODEL = "google/gemini-2.5-flash"


def _ledger(tmp_path: Path) -> list[tuple[Any, ...]]:
    return rows(tmp_path, "SELECT kind, model, outcome, images, cost_usd FROM requests ORDER BY id")


def _buttons(call: Call) -> list[dict[str, Any]]:
    return [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


async def _draws_it(telegram: FakeTelegram, eden: FakeEden, answer: Call) -> None:
    """ "Draw this" under `answer` draws its text with the chat's settings, as a reply to it."""
    [draw, copy] = _buttons(answer)
    assert (draw["text"], copy) == (
        "🎨 Draw this",
        {"text": "📋 Copy", "copy_text": {"text": eden.words}},
    )
    taken = await _tap(telegram, answer.result, draw["callback_data"], ALICE)
    assert taken.params["text"] == texts.RESULT_BUTTON_TAKEN()
    [picture] = await telegram.wait_for("sendPhoto", ALICE)
    body = eden.calls[-1].body
    assert (body["model"], _prompt(body), _images(body)) == (
        "google/gemini-nano-banana-2.1",
        eden.words,
        [],
    )
    assert picture.reply_to == answer.result["message_id"]
    assert picture.params["caption"].startswith(eden.words)
    # "Draw this" naming a picture's job rather than a text job's is forged.
    job_id = _keyboard(picture)["🔁 Again"].rsplit("|", 1)[1]
    forged = await _tap(telegram, picture.result, f"res|d|{job_id}", ALICE)
    assert forged.params["text"] == texts.RESULT_BUTTON_UNKNOWN()


async def test_describe_a_replied_photo_then_draw_it(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    # One image a day: the description is no image, so the drawing still fits.
    await start_bot(USER_DAILY_IMAGES="1")
    photo = jpeg(640, 480)
    sent = await telegram.send(
        photo_message(ALICE, [(telegram.add_file(photo), 640, 480, len(photo))])
    )
    assert (await telegram.reply_to(sent)).params["text"] == texts.PHOTO_WITHOUT_CAPTION()

    asked = await telegram.send(text_message(ALICE, "/describe", reply_to=sent))
    answer = await telegram.reply_to(asked)
    body = eden.calls[-1].body
    assert body["model"] == TEXT_MODEL
    assert "image_config" not in body  # a text model has no picture shape
    assert _prompt(body) == DESCRIBE_INSTRUCTION
    assert _images(body) == [photo]
    assert answer.params["text"] == eden.words
    assert await _settled(tmp_path, 1)
    assert _ledger(tmp_path) == [("describe", TEXT_MODEL, "ok", 0, eden.text_cost)]

    await _draws_it(telegram, eden, answer)
    await _settled(tmp_path, 2)
    assert _ledger(tmp_path)[1] == ("generate", "google/gemini-nano-banana-2.1", "ok", 1, eden.cost)


async def test_a_photo_captioned_describe_is_described_and_without_a_photo_explained(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot()
    photo = jpeg(300, 200)
    sent = await telegram.send(
        photo_message(ALICE, [(telegram.add_file(photo), 300, 200, len(photo))], "/describe")
    )
    answer = await telegram.reply_to(sent)
    assert answer.params["text"] == eden.words
    assert _images(eden.calls[0].body) == [photo]
    assert _prompt(eden.calls[0].body) == DESCRIBE_INSTRUCTION

    alone = await telegram.send(text_message(ALICE, "/describe"))
    assert (await telegram.reply_to(alone)).params["text"] == texts.DESCRIBE_USAGE()
    assert len(eden.calls) == 1


async def test_enhance_rewrites_a_short_prompt_then_draws_it_and_its_cost_meets_the_budget(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(USER_MONTHLY_BUDGET_USD="0.0005")
    empty = await telegram.send(text_message(ALICE, "/enhance"))
    assert (await telegram.reply_to(empty)).params["text"] == texts.ENHANCE_USAGE()
    assert eden.calls == []

    asked = await telegram.send(text_message(ALICE, "/enhance a fox in the snow"))
    answer = await telegram.reply_to(asked)
    [call] = eden.calls
    assert call.body["model"] == TEXT_MODEL
    assert _prompt(call.body) == ENHANCE_INSTRUCTION.format(prompt="a fox in the snow")
    assert answer.params["text"] == eden.words
    await _settled(tmp_path, 1)
    assert _ledger(tmp_path) == [("enhance", TEXT_MODEL, "ok", 0, eden.text_cost)]

    # $0.0004 of $0.0005 is spent: one more goes ahead, and after it the budget is used up.
    again = await telegram.send(text_message(ALICE, "/enhance a cat"))
    await telegram.reply_to(again)
    await _settled(tmp_path, 2)
    refused = await telegram.send(text_message(ALICE, "/enhance a dog"))
    told = await telegram.reply_to(refused)
    assert told.params["text"].startswith("You've used this month's budget of $0.0005")
    assert len(eden.calls) == 2
    usage = await telegram.send(text_message(ALICE, "/usage"))
    assert (
        "Today: 0 images, $0.001\nThis month: 0 images, $0.001\n"
        in ((await telegram.reply_to(usage)).params["text"])
    )


async def test_enhance_under_a_result_made_from_a_short_prompt(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    """✨ Enhance in the studio of a result made from a short prompt: the text model rewrites
    that prompt (paid by whoever taps) and offers "Draw this"; a long prompt offers none."""
    await start_bot()
    asked = await telegram.send(text_message(ALICE, "a fox"))
    first = await telegram.reply_to(asked)
    studio = await _studio(telegram, first, ALICE)
    taken = await _tap(telegram, first.result, studio["✨ Enhance"], ALICE)
    assert taken.params["text"] == texts.RESULT_BUTTON_TAKEN()
    answer = await telegram.reply_to(first.result)
    call = eden.calls[-1]
    assert call.body["model"] == TEXT_MODEL
    assert _prompt(call.body) == ENHANCE_INSTRUCTION.format(prompt="a fox")
    assert answer.params["text"] == eden.words
    assert [b["text"] for b in _buttons(answer)] == ["🎨 Draw this", "📋 Copy"]
    await _settled(tmp_path, 2)
    assert _ledger(tmp_path)[1] == ("enhance", TEXT_MODEL, "ok", 0, eden.text_cost)

    long_prompt = "a fox in the snow at dawn, " * 4
    asked = await telegram.send(text_message(ALICE, long_prompt))
    second = await telegram.reply_to(asked)
    assert "✨ Enhance" not in await _studio(telegram, second, ALICE)
