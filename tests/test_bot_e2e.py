"""The real bot process against the fake Telegram and Eden servers: what a user sees."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
import pytest
from PIL import Image

from bot import texts
from tests.conftest import BOT_TOKEN, StartBot, free_port
from tests.fakes.database import rows
from tests.fakes.eden import API_KEY, FakeEden, chat_reply, no_picture_reply
from tests.fakes.images import jpeg, png
from tests.fakes.telegram import FakeTelegram, photo_message, text_message

CHAT = 4242


async def _ask(telegram: FakeTelegram, text: str, chat_id: int = CHAT) -> str:
    """Send `text` and return the text of the bot's reply."""
    return await telegram.ask(text_message(chat_id, text))


# ---- the main path ---------------------------------------------------------------------------
async def test_text_becomes_a_photo(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.image = png(1376, 768)
    await start_bot()
    message = await telegram.send(text_message(CHAT, "  a red fox in the snow "))
    reply = await telegram.reply_to(message)

    assert reply.method == "sendPhoto"
    assert reply.files["photo"] == eden.last_image
    [call] = eden.calls
    assert call.path == "/chat/completions"
    assert call.body == {
        "model": "google/gemini-nano-banana-2.1",
        "messages": [{"role": "user", "content": "a red fox in the snow"}],
        "image_config": {"aspect_ratio": "1:1", "image_size": "1K"},
    }
    actions = telegram.sent("sendChatAction", CHAT)
    assert actions and actions[0].params["action"] == "upload_photo"
    assert telegram.calls.index(actions[0]) < telegram.calls.index(reply)


async def test_upload_indicator_is_renewed_while_waiting(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_hang(4.6)
    await start_bot()
    message = await telegram.send(text_message(CHAT, "a slow fox"))
    reply = await telegram.reply_to(message)
    assert reply.method == "sendPhoto"
    assert len(telegram.sent("sendChatAction", CHAT)) >= 2


async def test_commands_are_registered_at_start(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot()
    [call] = await telegram.wait_for("setMyCommands")
    registered = [c["command"] for c in call.params["commands"]]
    assert registered == [command for command, _ in texts.COMMANDS]
    assert {"ratio", "size", "help"} <= set(registered)


@pytest.mark.parametrize("command", ["/start", "/help"])
async def test_start_and_help(start_bot: StartBot, telegram: FakeTelegram, command: str) -> None:
    await start_bot()
    text = await _ask(telegram, command)
    assert "/ratio" in text and "/size" in text and "photo" in text
    # The studio's ways and commands too, not only the command menu's.
    assert all(word in text for word in ("More…", "/presets", "/describe", "/enhance", "/history"))


async def test_photo_with_caption_is_an_edit_of_the_largest_size(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    small, large = jpeg(90, 60, (1, 1, 1)), jpeg(1280, 853, (9, 99, 199))
    sizes = [
        (telegram.add_file(small), 90, 60, len(small)),
        (telegram.add_file(large), 1280, 853, len(large)),
    ]
    await start_bot()
    message = await telegram.send(photo_message(CHAT, sizes, caption="make it a watercolor"))
    reply = await telegram.reply_to(message)

    assert reply.method == "sendPhoto"
    assert reply.files["photo"] == eden.last_image
    [call] = eden.calls
    text_part, image_part = call.body["messages"][0]["content"]
    assert text_part == {"type": "text", "text": "make it a watercolor"}
    prefix, encoded = image_part["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/jpeg;base64"
    assert base64.b64decode(encoded) == large
    assert telegram.downloads == [telegram.files[sizes[1][0]][0]]


async def test_photo_without_caption_gets_a_hint(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    data = jpeg(100, 100)
    await start_bot()
    message = await telegram.send(
        photo_message(CHAT, [(telegram.add_file(data), 100, 100, len(data))], caption="   ")
    )
    reply = await telegram.reply_to(message)
    assert reply.method == "sendMessage"
    assert "caption" in reply.params["text"]
    assert eden.calls == []


async def test_a_photo_that_is_not_an_image(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    junk = b"this is not a jpeg" * 10
    await start_bot()
    message = await telegram.send(
        photo_message(CHAT, [(telegram.add_file(junk), 100, 100, len(junk))], caption="edit it")
    )
    reply = await telegram.reply_to(message)
    assert "couldn't read that as an image" in reply.params["text"]
    assert eden.calls == []


async def test_a_photo_over_the_download_limit(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    sizes = [(telegram.add_file(jpeg(10, 10)), 5000, 5000, 25 * 1024 * 1024)]
    message = await telegram.send(photo_message(CHAT, sizes, caption="edit it"))
    reply = await telegram.reply_to(message)
    assert "too large" in reply.params["text"]
    assert eden.calls == [] and telegram.downloads == []


@pytest.mark.parametrize(
    "content",
    [
        {"sticker": {"file_id": "s", "file_unique_id": "s", "width": 512, "height": 512,
                     "is_animated": False, "is_video": False, "type": "regular"}},
        {"video": {"file_id": "v", "file_unique_id": "v", "width": 640, "height": 480,
                   "duration": 3}},
        {"voice": {"file_id": "a", "file_unique_id": "a", "duration": 2}},
    ],
    ids=["sticker", "video", "voice"],
)  # fmt: skip
async def test_unsupported_messages_get_a_friendly_reply(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, content: dict[str, object]
) -> None:
    await start_bot()
    message = text_message(CHAT, "")
    del message["text"]
    message.update(content)
    reply = await telegram.answer(message)
    assert "I can only work with text and photos" in reply.params["text"]
    assert eden.calls == []


async def test_unknown_command(start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden) -> None:
    await start_bot()
    assert "/help" in await _ask(telegram, "/paint a fox")
    assert eden.calls == []


# ---- settings --------------------------------------------------------------------------------
async def test_ratio_and_size_are_shown_set_and_used(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    shown = await _ask(telegram, "/ratio")
    assert "Current aspect ratio: 1:1" in shown and "21:9" in shown and "8:1" in shown
    assert "is now 16:9" in await _ask(telegram, "/ratio 16:9")
    assert "is now 4K" in await _ask(telegram, "/size 4k")
    assert "Current size: 4K" in await _ask(telegram, "/size")

    reply = await telegram.answer(text_message(CHAT, "a lighthouse"))
    assert reply.method == "sendPhoto"
    assert eden.calls[-1].body["image_config"] == {"aspect_ratio": "16:9", "image_size": "4K"}


async def test_settings_belong_to_their_chat(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    await _ask(telegram, "/ratio 9:16", chat_id=1)
    await telegram.answer(text_message(2, "a cat"))
    assert eden.calls[-1].body["image_config"]["aspect_ratio"] == "1:1"


@pytest.mark.parametrize(
    ("command", "expected"),
    [("/ratio 7:3", "“7:3” is not a valid aspect ratio"), ("/size 8K", "“8K” is not a valid size"),
     ("/ratio sixteen by nine", "not a valid aspect ratio")],
)  # fmt: skip
async def test_unknown_values_are_refused_and_change_nothing(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, command: str, expected: str
) -> None:
    await start_bot()
    await _ask(telegram, "/ratio 3:2")
    await _ask(telegram, "/size 2K")
    refusal = await _ask(telegram, command)
    assert expected in refusal
    assert "1:1" in refusal or "1K" in refusal  # the valid choices are listed
    await telegram.answer(text_message(CHAT, "a boat"))
    assert eden.calls[-1].body["image_config"] == {"aspect_ratio": "3:2", "image_size": "2K"}


async def test_values_the_model_cannot_do_are_refused(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(EDENAI_MODEL="google/gemini-2.5-flash-image")
    assert "can't make the aspect ratio 8:1" in await _ask(telegram, "/ratio 8:1")
    assert "can't make the size 2K" in await _ask(telegram, "/size 2K")
    shown = await _ask(telegram, "/ratio")
    assert "8:1" not in shown and "21:9" in shown
    await telegram.answer(text_message(CHAT, "a boat"))
    assert eden.calls[-1].body["image_config"] == {"aspect_ratio": "1:1"}


async def test_settings_survive_a_restart(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    first = await start_bot()
    await _ask(telegram, "/ratio 21:9")
    await _ask(telegram, "/size 4K")
    assert await first.stop() == 0
    assert "Application.stop() complete" in first.output

    await start_bot()
    await telegram.answer(text_message(CHAT, "a canyon"))
    assert eden.calls[-1].body["image_config"] == {"aspect_ratio": "21:9", "image_size": "4K"}


# ---- upstream protocols and failures ----------------------------------------------------------
async def test_auto_mode_switches_to_the_images_api(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.chat_unsupported = True
    await start_bot()
    await _ask(telegram, "/ratio 16:9")
    first = await telegram.answer(text_message(CHAT, "a fox"))
    second = await telegram.answer(text_message(CHAT, "a wolf"))
    assert first.method == second.method == "sendPhoto"
    assert first.files["photo"] == eden.last_image
    assert [c.path for c in eden.calls] == [
        "/chat/completions",
        "/images/generations",
        "/images/generations",
    ]
    body = eden.calls[1].body
    assert body["prompt"] == "a fox"
    assert body["size"] == "1792x1024"
    assert body["image_config"] == {"aspect_ratio": "16:9", "image_size": "1K"}
    assert first.params["caption"] == "a fox\n\n16:9 · 1K · 1376×768 · $0.067"


async def test_images_mode_edit(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    photo = jpeg(640, 480)
    await start_bot(EDENAI_API_MODE="images")
    message = await telegram.send(
        photo_message(CHAT, [(telegram.add_file(photo), 640, 480, len(photo))], caption="add a hat")
    )
    assert (await telegram.reply_to(message)).method == "sendPhoto"
    [call] = eden.calls
    assert call.path == "/images/edits"
    assert call.body["prompt"] == "add a hat"
    assert base64.b64decode(call.body["images"][0]["image_url"].split(",", 1)[1]) == photo


async def test_a_refusal_shows_the_models_words(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_json(chat_reply("I can't make images of real people."))
    eden.then_json(chat_reply(None, finish_reason="content_filter"))
    await start_bot()
    assert "I can't make images of real people." in await _ask(telegram, "a senator")
    assert "safety filter" in await _ask(telegram, "another senator")


@pytest.mark.parametrize("protocol", ["chat", "images"])
async def test_a_picture_that_did_not_come_is_explained_free_and_counted(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path, protocol: str
) -> None:
    eden.then_json(no_picture_reply(protocol, "IMAGE_RECITATION"))
    eden.then_json(no_picture_reply(protocol, "SPII"))
    port = free_port()
    # One image a day: a request without a picture must not use it up.
    bot = await start_bot(
        EDENAI_API_MODE=protocol,
        HEALTH_PORT=str(port),
        ALLOW_EVERYONE="false",
        USER_DAILY_IMAGES="1",
        ALLOWED_USER_IDS=str(CHAT),
        ADMIN_USER_IDS="99",
    )
    recitation = await _ask(telegram, "a famous mouse")
    assert recitation.startswith("No picture: this looks like a protected work")
    assert "This one is free" in recitation
    # The answer goes out before the ledger line is closed.
    await bot.wait_for_output("no_picture=image_recitation")
    assert (await _ask(telegram, "my neighbour's passport")).startswith(
        "No picture: your request seems to contain sensitive personal information."
    )
    await bot.wait_for_output("no_picture=spii")
    reply = await telegram.answer(text_message(CHAT, "a mouse of my own"))
    assert reply.method == "sendPhoto"
    await bot.wait_for_output("outcome=ok")
    assert rows(
        tmp_path,
        "SELECT outcome, cost_usd, no_picture_reason, unbilled_cost_usd FROM requests ORDER BY id",
    ) == [
        ("refused", 0.0, "image_recitation", 0.02),
        ("refused", 0.0, "spii", 0.02),
        ("ok", 0.067, None, 0.0),
    ]
    assert "Today: 1 image, $0.067" in await _ask(telegram, "/usage")
    stats = await telegram.ask(text_message(99, "/stats"))
    assert "refused/image_recitation: 1" in stats
    assert "refused/spii: 1" in stats
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    assert 'bot_no_picture_total{reason="image_recitation"} 1.0' in metrics
    assert 'bot_no_picture_total{reason="spii"} 1.0' in metrics


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, {"error": {"message": "internal"}}, "had a problem making this image. Please try again"),
        (429, {"detail": "slow down", "error_code": "RATE_LIMITED", "retry_after": 30},
         "busy right now. Please try again in about 30 seconds"),
        (401, {"detail": "bad key", "error_code": "UNAUTHORIZED"}, "key was refused. Retrying won't help"),
        (402, {"error": "Insufficient credits"}, "out of credit. Retrying won't help"),
        (404, {"detail": "no such model"}, "model isn't available. Retrying won't help"),
    ],
)  # fmt: skip
async def test_upstream_errors_say_whether_to_retry(
    start_bot: StartBot,
    telegram: FakeTelegram,
    eden: FakeEden,
    status: int,
    body: dict[str, object],
    expected: str,
) -> None:
    eden.then_json(body, status=status)
    bot = await start_bot()
    assert expected in await _ask(telegram, "a fox")
    assert bot.running
    # The bot carries on: the next request works.
    reply = await telegram.answer(text_message(CHAT, "a fox again"))
    assert reply.method == "sendPhoto"


async def test_upstream_timeout(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_hang(10)
    await start_bot(EDENAI_TIMEOUT_SECONDS="1")
    assert "took too long" in await _ask(telegram, "a fox")


# ---- delivery --------------------------------------------------------------------------------
def _noise_png(width: int, height: int) -> bytes:
    import io

    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: png(12288, 1536), "8:1 at 4K: width + height over 10000"),
        (lambda: png(4200, 200), "side ratio over 20"),
        (lambda: _noise_png(1900, 1900), "over 10 MB"),
    ],
)
async def test_images_telegram_refuses_as_photos_arrive_as_documents(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, make: object, why: str
) -> None:
    eden.image = make()  # type: ignore[operator]
    await start_bot()
    reply = await telegram.answer(text_message(CHAT, "a long banner"))
    assert reply.method == "sendDocument", why
    assert reply.files["document"] == eden.last_image
    assert reply.filenames["document"] == "image.png"
    assert telegram.sent("sendPhoto") == []


async def test_a_photo_telegram_refuses_is_sent_again_as_a_document(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.fail_next("sendPhoto", 400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    await start_bot()
    reply = await telegram.answer(text_message(CHAT, "a fox"))
    assert reply.method == "sendPhoto"  # the refused attempt
    [document] = await telegram.wait_for("sendDocument", CHAT)
    assert document.files["document"] == eden.last_image


async def test_an_unexpected_telegram_error_gets_an_apology(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.fail_next("sendPhoto", 400, "Bad Request: something nobody expected")
    telegram.fail_next("sendDocument", 400, "Bad Request: nor this")
    bot = await start_bot()
    await telegram.send(text_message(CHAT, "a fox"))
    [apology] = await telegram.wait_for("sendMessage", CHAT)
    assert (
        apology.params["text"]
        == "Sorry, something went wrong on my side. Please try again in a moment."
    )
    assert "Traceback" not in apology.params["text"]
    assert bot.running


# ---- secrets and start-up --------------------------------------------------------------------
async def test_secrets_never_reach_the_log(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    photo = jpeg(64, 64)
    eden.then_json({"error": {"message": "internal"}}, status=500)
    bot = await start_bot(LOG_LEVEL="DEBUG")
    await _ask(telegram, "a failing fox")
    await telegram.answer(text_message(CHAT, "a fox"))
    message = photo_message(CHAT, [(telegram.add_file(photo), 64, 64, len(photo))], caption="edit")
    await telegram.answer(message)
    await bot.stop()
    assert "sendPhoto" in bot.output  # the log did record the traffic ...
    assert BOT_TOKEN not in bot.output  # ... but never the secrets
    assert BOT_TOKEN.split(":")[1] not in bot.output
    assert API_KEY not in bot.output


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ({"TELEGRAM_BOT_TOKEN": None},
         "Configuration error: Missing setting TELEGRAM_BOT_TOKEN: set it in the environment or in .env"),
        ({"EDENAI_API_KEY": None},
         "Configuration error: Missing setting EDENAI_API_KEY: set it in the environment or in .env"),
        ({"EDENAI_MODEL": "google/gemini-2.5-flash-image", "DEFAULT_IMAGE_SIZE": "4k"},
         "Configuration error: DEFAULT_IMAGE_SIZE=4K is not supported by google/gemini-2.5-flash-image; "
         "use one of 1K"),
        ({"DEFAULT_ASPECT_RATIO": "7:3"},
         "Configuration error: Invalid setting DEFAULT_ASPECT_RATIO: Value error, must be one of 1:1, "
         "16:9, 9:16, 4:3, 3:4, 21:9, 2:3, 3:2, 4:5, 5:4, 1:4, 4:1, 1:8, 8:1"),
    ],
)  # fmt: skip
async def test_bad_configuration_stops_start_up_with_one_line(
    start_bot: StartBot, telegram: FakeTelegram, settings: dict[str, str | None], line: str
) -> None:
    bot = await start_bot(**settings)
    assert await bot.wait() == 2
    assert bot.output.strip() == line
    assert telegram.calls == []


async def test_a_refused_token_stops_start_up_with_one_line(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    bot = await start_bot(TELEGRAM_BOT_TOKEN="42:not-the-right-token-xxxxxxxxxxxxxxxxxxxx")
    assert await bot.wait() == 2
    # PTB logs its own account above; the last line says what to do.
    last = bot.output.strip().splitlines()[-1]
    assert last == "Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather"
    assert "not-the-right-token" not in bot.output


async def test_an_unreachable_telegram_stops_start_up_with_one_line(start_bot: StartBot) -> None:
    bot = await start_bot(TELEGRAM_API_URL=f"http://127.0.0.1:{free_port()}")
    assert await bot.wait() == 1
    last = bot.output.strip().splitlines()[-1]
    assert last.startswith("Cannot start: no answer from Telegram at http://127.0.0.1:")
