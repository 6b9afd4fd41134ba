"""Groups, replies, albums, files, settings buttons and models, through the real bot process."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from tests.conftest import StartBot
from tests.fakes.eden import FakeEden, chat_reply, data_url
from tests.fakes.images import jpeg, png
from tests.fakes.telegram import (
    BOT_USERNAME,
    FakeTelegram,
    document_message,
    photo_message,
    text_message,
)

CHAT = 5151
GROUP = -100777
ADMIN, MEMBER = 11, 12


def _images_sent_upstream(body: dict[str, Any]) -> list[bytes]:
    """The images of a chat-completions request, decoded: its own inputs and, continuing a
    conversation, the earlier turns' (the last picture last of those)."""
    parts = [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]]
    return [
        base64.b64decode(p["image_url"]["url"].split(",", 1)[1])
        for p in parts
        if p["type"] == "image_url"
    ]


def _prompt_sent_upstream(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def _photo(telegram: FakeTelegram, chat_id: int, data: bytes, **kw: Any) -> dict[str, Any]:
    return photo_message(chat_id, [(telegram.add_file(data), 800, 600, len(data))], **kw)


# ---- group chats -----------------------------------------------------------------------------
async def test_group_messages_not_meant_for_the_bot_are_ignored(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    await telegram.send(text_message(GROUP, "lunch at noon?", user_id=MEMBER))
    await telegram.send(_photo(telegram, GROUP, jpeg(80, 60), caption="my cat"))
    await telegram.send(text_message(GROUP, "/ratio@OtherBot 16:9", user_id=ADMIN))
    await telegram.send(text_message(GROUP, "/help@OtherBot", user_id=ADMIN))
    # Something meant for the bot, as a marker that the earlier updates were handled.
    reply = await telegram.answer(text_message(GROUP, f"@{BOT_USERNAME} a red fox", user_id=MEMBER))
    assert reply.method == "sendPhoto"
    assert [_prompt_sent_upstream(c.body) for c in eden.calls] == ["a red fox"]
    answered = [c for c in telegram.calls if c.method in ("sendMessage", "sendPhoto")]
    assert answered == [reply]


async def test_a_mention_in_a_photo_caption_edits_the_photo(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    photo = jpeg(640, 480)
    await start_bot()
    message = _photo(telegram, GROUP, photo, caption=f"@{BOT_USERNAME} make it snow")
    reply = await telegram.answer(message)
    assert reply.method == "sendPhoto"
    [call] = eden.calls
    assert _prompt_sent_upstream(call.body) == "make it snow"
    assert _images_sent_upstream(call.body) == [photo]


async def test_group_commands_addressed_to_the_bot_or_bare(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    telegram.admins[GROUP] = {ADMIN}
    await start_bot()
    assert "is now 16:9" in await telegram.ask(
        text_message(GROUP, f"/ratio@{BOT_USERNAME} 16:9", user_id=ADMIN)
    )
    assert "is now 2K" in await telegram.ask(text_message(GROUP, "/size 2K", user_id=ADMIN))
    shown = await telegram.ask(text_message(GROUP, "/settings", user_id=MEMBER))
    assert "Aspect ratio: 16:9" in shown
    assert "Size: 2K" in shown


async def test_a_non_admin_cannot_change_group_settings(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.admins[GROUP] = {ADMIN}
    await start_bot()
    refusal = await telegram.ask(text_message(GROUP, "/ratio 9:16", user_id=MEMBER))
    assert refusal == "Only this group's administrators can change its settings."
    await telegram.answer(text_message(GROUP, f"@{BOT_USERNAME} a tower", user_id=MEMBER))
    assert eden.calls[-1].body["image_config"]["aspect_ratio"] == "1:1"


async def test_everyone_may_change_group_settings_when_configured(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot(GROUP_SETTINGS="everyone")
    assert "is now 9:16" in await telegram.ask(text_message(GROUP, "/ratio 9:16", user_id=MEMBER))


# ---- replies and refinement ------------------------------------------------------------------
async def test_replying_to_a_photo_edits_that_photo(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    someones_photo = await telegram.send(_photo(telegram, CHAT, jpeg(500, 400, (5, 50, 150))))
    await start_bot()
    # The photo alone (no caption) gets the hint; the text reply to it is the edit.
    await telegram.reply_to(someones_photo)
    message = text_message(CHAT, "make it black and white", reply_to=someones_photo)
    reply = await telegram.answer(message)
    assert reply.method == "sendPhoto"
    [call] = eden.calls
    assert _images_sent_upstream(call.body) == [jpeg(500, 400, (5, 50, 150))]


async def test_two_turn_refinement_of_the_bots_own_image(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    first, second, third = png(64, 64, (1, 1, 1)), png(64, 64, (2, 2, 2)), png(64, 64, (3, 3, 3))
    for image in (first, second, third):
        eden.then_json(chat_reply(data_url(image)))
    await start_bot()
    turn1 = await telegram.answer(text_message(CHAT, "a castle"))
    turn2 = await telegram.answer(text_message(CHAT, "make the sky pink", reply_to=turn1.result))
    turn3 = await telegram.answer(text_message(CHAT, "add a moon", reply_to=turn2.result))
    assert [t.files["photo"] for t in (turn1, turn2, turn3)] == [first, second, third]
    assert _images_sent_upstream(eden.calls[1].body) == [first]
    # The picture replied to goes last (tests/test_conversation_e2e.py: the turns before it).
    assert _images_sent_upstream(eden.calls[2].body)[-1] == second
    assert _prompt_sent_upstream(eden.calls[2].body) == "add a moon"


async def test_a_reply_to_the_bot_in_a_group_needs_no_mention(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(GROUP_COOLDOWN_SECONDS="0")
    first = await telegram.answer(text_message(GROUP, f"@{BOT_USERNAME} a ship", user_id=MEMBER))
    message = text_message(GROUP, "now at night", user_id=MEMBER, reply_to=first.result)
    second = await telegram.answer(message)
    assert second.method == "sendPhoto"
    assert _images_sent_upstream(eden.calls[1].body) == [first.files["photo"]]


async def test_a_photo_replying_to_a_photo_sends_both(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    person, hat = jpeg(300, 400, (10, 10, 10)), jpeg(200, 200, (200, 10, 10))
    original = await telegram.send(_photo(telegram, CHAT, person))
    await start_bot()
    await telegram.reply_to(original)  # the caption hint
    message = _photo(telegram, CHAT, hat, caption="put this hat on him", reply_to_message=original)
    assert (await telegram.answer(message)).method == "sendPhoto"
    assert _images_sent_upstream(eden.calls[0].body) == [person, hat]


# ---- albums and files ------------------------------------------------------------------------
async def test_an_album_is_one_request_with_all_its_photos(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    photos = [jpeg(100 + i, 100, (i * 40, 0, 0)) for i in range(3)]
    await start_bot()
    messages = [
        _photo(
            telegram, CHAT, data, media_group_id="album-1", caption="a collage" if i == 1 else None
        )
        for i, data in enumerate(photos)
    ]
    for message in messages:
        await telegram.send(message)
        await asyncio.sleep(0.3)
    reply = await telegram.reply_to(messages[1])
    assert reply.method == "sendPhoto"
    await asyncio.sleep(1.5)  # long enough for a second answer to show up, were there one
    [call] = eden.calls
    assert _prompt_sent_upstream(call.body) == "a collage"
    assert _images_sent_upstream(call.body) == photos
    assert len(telegram.sent("sendPhoto")) == 1


async def test_an_album_over_the_models_limit_is_trimmed_and_says_so(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    photos = [jpeg(50, 50 + i) for i in range(4)]
    await start_bot(EDENAI_MODEL="google/gemini-2.5-flash-image")
    messages = [
        _photo(telegram, CHAT, data, media_group_id="album-2", caption="merge" if i == 0 else None)
        for i, data in enumerate(photos)
    ]
    for message in messages:
        await telegram.send(message)
    [notice, result] = await telegram.wait_for(("sendMessage", "sendPhoto"), CHAT, count=2)
    assert notice.params["text"] == (
        "This model takes at most 3 images, so I used the first 3 of your 4."
    )
    assert result.method == "sendPhoto"
    assert _images_sent_upstream(eden.calls[0].body) == photos[:3]


async def test_a_png_file_is_an_input_at_full_resolution(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    original = png(3000, 2000, (0, 90, 0))
    file_id = telegram.add_file(original, "png")
    await start_bot()
    message = document_message(CHAT, file_id, "image/png", len(original), caption="add a frame")
    reply = await telegram.answer(message)
    assert reply.method == "sendPhoto"
    [call] = eden.calls
    url = call.body["messages"][0]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert _images_sent_upstream(call.body) == [original]


async def test_a_pdf_is_refused(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    pdf = b"%PDF-1.7\n%fake\n"
    await start_bot()
    message = document_message(
        CHAT,
        telegram.add_file(pdf, "pdf"),
        "application/pdf",
        len(pdf),
        caption="edit",
        file_name="a.pdf",
    )
    text = await telegram.ask(message)
    assert text.startswith("That file isn't an image.")
    assert eden.calls == []
    assert telegram.downloads == []


async def test_an_image_file_over_20_mb_is_refused(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    file_id = telegram.add_file(png(10, 10), "png")
    message = document_message(CHAT, file_id, "image/png", 21 * 1024 * 1024, caption="edit")
    assert "too large" in await telegram.ask(message)
    assert eden.calls == []


async def test_format_file_sends_the_original_bytes_as_a_document(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.image = png(256, 256, (7, 7, 7))
    await start_bot()
    assert "is now file" in await telegram.ask(text_message(CHAT, "/format file"))
    reply = await telegram.answer(text_message(CHAT, "a lamp"))
    assert reply.method == "sendDocument"
    assert reply.files["document"] == eden.last_image


# ---- settings buttons, models, captions ------------------------------------------------------
async def test_buttons_set_a_value_and_confirm_in_place(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    menu = await telegram.answer(text_message(CHAT, "/size"))
    buttons = [b for row in menu.params["reply_markup"]["inline_keyboard"] for b in row]
    # Nano Banana 2.1, the default, has no 512.
    assert [b["text"] for b in buttons] == ["✓ 1K", "2K", "4K"]
    await telegram.press(menu.result, buttons[1]["callback_data"], user_id=CHAT)
    [edit] = await telegram.wait_for("editMessageText", CHAT)
    assert edit.params["message_id"] == str(menu.result["message_id"])
    assert "is now 2K" in edit.params["text"]
    assert (await telegram.wait_for("answerCallbackQuery"))[0].params["callback_query_id"]
    await telegram.answer(text_message(CHAT, "a tree"))
    assert eden.calls[-1].body["image_config"]["image_size"] == "2K"


async def test_a_non_admins_button_tap_is_refused(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    telegram.admins[GROUP] = {ADMIN}
    await start_bot()
    menu = await telegram.answer(text_message(GROUP, "/ratio", user_id=MEMBER))
    await telegram.press(menu.result, "set|ratio|9:16", user_id=MEMBER)
    [answer] = await telegram.wait_for("answerCallbackQuery")
    assert answer.params["text"] == "Only this group's administrators can change its settings."
    assert telegram.sent("editMessageText") == []
    shown = await telegram.ask(text_message(GROUP, "/settings", user_id=MEMBER))
    assert "Aspect ratio: 1:1" in shown


async def test_switching_model_drops_a_size_it_cannot_make(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(ALLOWED_MODELS="google/gemini-2.5-flash-image, google/gemini-3-pro-image")
    shown = await telegram.ask(text_message(CHAT, "/model"))
    assert "Current model: google/gemini-nano-banana-2.1" in shown
    assert "google/gemini-2.5-flash-image" in shown
    await telegram.ask(text_message(CHAT, "/size 4K"))
    await telegram.ask(text_message(CHAT, "/ratio 8:1"))
    switched = await telegram.ask(text_message(CHAT, "/model gemini-2.5-flash-image"))
    assert "the model is now google/gemini-2.5-flash-image" in switched
    assert "can't do the aspect ratio 8:1, so this chat now uses 1:1" in switched
    assert "can't do the size 4K, so this chat now uses 1K" in switched
    await telegram.answer(text_message(CHAT, "a kite"))
    body = eden.calls[-1].body
    assert body["model"] == "google/gemini-2.5-flash-image"
    assert body["image_config"] == {"aspect_ratio": "1:1"}
    assert "not a valid model" in await telegram.ask(text_message(CHAT, "/model dall-e-3"))


async def test_a_chat_on_512_that_switches_to_2_1_gets_1k_with_a_note(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(
        EDENAI_MODEL="google/gemini-3.1-flash-image", ALLOWED_MODELS="google/gemini-nano-banana-2.1"
    )
    assert "is now 512" in await telegram.ask(text_message(CHAT, "/size 512"))
    switched = await telegram.ask(text_message(CHAT, "/model gemini-nano-banana-2.1"))
    note = "google/gemini-nano-banana-2.1 can't do the size 512, so this chat now uses 1K."
    assert switched.count(note) == 1
    menu = await telegram.answer(text_message(CHAT, "/size"))
    buttons = [b["text"] for row in menu.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["✓ 1K", "2K", "4K"]
    assert "can't make the size 512" in await telegram.ask(text_message(CHAT, "/size 512"))
    await telegram.answer(text_message(CHAT, "a kite"))
    body = eden.calls[-1].body
    assert body["model"] == "google/gemini-nano-banana-2.1"
    assert body["image_config"]["image_size"] == "1K"


async def test_a_saved_512_gets_the_nearest_tier_once_when_the_successor_takes_over(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    first = await start_bot(EDENAI_MODEL="google/gemini-3.1-flash-image")
    assert "is now 512" in await telegram.ask(text_message(CHAT, "/size 512"))
    assert await first.stop() == 0
    eden.models = ["google/gemini-nano-banana-2.1"]  # Eden retired Nano Banana 2 meanwhile
    bot = await start_bot(EDENAI_MODEL="google/gemini-3.1-flash-image")
    await bot.wait_for_output("using its successor")
    kite = await telegram.send(text_message(CHAT, "a kite"))
    [photo] = await telegram.wait_for("sendPhoto", CHAT)
    notes = [c for c in telegram.sent("sendMessage", CHAT) if c.reply_to == kite["message_id"]]
    assert [n.params["text"] for n in notes] == [
        "google/gemini-nano-banana-2.1 can't do the size 512, so this chat now uses 1K."
    ]
    await telegram.answer(text_message(CHAT, "another kite"))
    assert [c.body["image_config"]["image_size"] for c in eden.calls] == ["1K", "1K"]
    assert {c.body["model"] for c in eden.calls} == {"google/gemini-nano-banana-2.1"}
    texts = [c.params["text"] for c in telegram.sent("sendMessage", CHAT)]
    assert sum("can't do the size 512" in t for t in texts) == 1  # told once
    assert photo.params["caption"].startswith("a kite\n\n1:1 · 1K")


async def test_results_carry_a_caption_with_prompt_settings_and_cost(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    long_prompt = "a very detailed scene " * 80
    await start_bot()
    await telegram.ask(text_message(CHAT, "/ratio 3:2"))
    reply = await telegram.answer(text_message(CHAT, "a small boat"))
    assert reply.params["caption"] == "a small boat\n\n3:2 · 1K · 1264×848 · $0.067"
    eden.then_json(chat_reply(data_url(png(1264, 848))))  # no cost reported
    reply = await telegram.answer(text_message(CHAT, long_prompt))
    caption = reply.params["caption"]
    assert len(caption) <= 1024
    assert caption.endswith("…\n\n3:2 · 1K · 1264×848")
    assert caption.startswith("a very detailed scene a very")
