"""Eden and Gemini as they are today, through the real bot: the GA model ids, the ratio reaching
the model on either protocol, the picture as proof, models that disappear, and timeouts."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from tests.conftest import StartBot, free_port
from tests.fakes.eden import FakeEden, chat_reply, data_url, images_reply
from tests.fakes.images import png
from tests.fakes.telegram import FakeTelegram, text_message

CHAT = 5151


def _pixels(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


async def _ratio(telegram: FakeTelegram, ratio: str) -> None:
    assert "Done" in await telegram.ask(text_message(CHAT, f"/ratio {ratio}"))


# ---- model ids -------------------------------------------------------------------------------
async def test_the_default_model_is_the_ga_id(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(EDENAI_MODEL=None)
    reply = await telegram.answer(text_message(CHAT, "a fox"))
    assert reply.method == "sendPhoto"
    assert eden.calls[0].body["model"] == "google/gemini-nano-banana-2.1"


async def test_a_retired_preview_id_is_mapped_to_its_successor_with_a_warning(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.models = ["google/gemini-3-pro-image", "google/gemini-3.1-flash-image"]
    bot = await start_bot(
        EDENAI_MODEL="google/gemini-3-pro-image-preview",
        ALLOWED_MODELS="google/gemini-3.1-flash-image-preview",
    )
    reply = await telegram.answer(text_message(CHAT, "a fox"))
    assert reply.method == "sendPhoto"
    assert eden.calls[0].body["model"] == "google/gemini-3-pro-image"
    shown = await telegram.ask(text_message(CHAT, "/model"))
    assert "google/gemini-3-pro-image, google/gemini-3.1-flash-image" in shown
    assert "preview" not in shown
    warnings = [line for line in bot.output.splitlines() if "was shut down by Google" in line]
    assert len(warnings) == 2
    assert "google/gemini-3-pro-image-preview" in warnings[0]
    assert "its successor google/gemini-3-pro-image" in warnings[0]


# ---- the ratio reaches the model -------------------------------------------------------------
async def test_a_16_9_request_comes_back_16_9_through_an_images_gateway(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    # The fake answers /images/* like a LiteLLM-style gateway: image_config ignored, `size`
    # read through its five-entry table, a flat aspect_ratio honoured.
    await start_bot(EDENAI_API_MODE="images")
    await _ratio(telegram, "16:9")
    reply = await telegram.answer(text_message(CHAT, "a wide fox"))
    assert reply.method == "sendPhoto"
    assert _pixels(reply.files["photo"]) == (1376, 768)
    assert reply.params["caption"] == "a wide fox\n\n16:9 · 1K · 1376×768 · $0.067"
    body = eden.calls[0].body
    assert body["aspect_ratio"] == "16:9"
    assert body["size"] == "1792x1024"


async def test_a_ratio_outside_the_gateway_table_is_sent_without_a_size(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(EDENAI_API_MODE="images")
    await _ratio(telegram, "21:9")
    reply = await telegram.answer(text_message(CHAT, "a very wide fox"))
    assert _pixels(reply.files["photo"]) == (1584, 672)
    assert "size" not in eden.calls[0].body


async def test_a_square_for_16_9_is_warned_counted_and_captioned_honestly(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.image = png(1024, 1024)  # a gateway that dropped the ratio
    port = free_port()
    bot = await start_bot(HEALTH_PORT=str(port))
    await _ratio(telegram, "16:9")
    first = await telegram.answer(text_message(CHAT, "a wide fox"))
    second = await telegram.answer(text_message(CHAT, "another wide fox"))
    assert first.params["caption"] == "a wide fox\n\n1:1 · 1K · 1024×1024 · $0.067 (asked 16:9)"
    assert second.params["caption"].endswith("(asked 16:9)")
    warnings = [line for line in bot.output.splitlines() if "does not honour" in line]
    assert len(warnings) == 1  # once per model, protocol, ratio and size
    assert "16:9 at 1K via chat" in warnings[0]
    assert "'image_config': {'aspect_ratio': '16:9', 'image_size': '1K'}" in warnings[0]
    assert "received 1024x1024" in warnings[0]
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    assert (
        'bot_shape_mismatches_total{model="google/gemini-nano-banana-2.1",protocol="chat",'
        'what="ratio"} 2.0'
    ) in metrics


async def test_a_smaller_tier_than_asked_is_said_too(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.image = png(1376, 768)
    await start_bot()
    await _ratio(telegram, "16:9")
    assert "Done" in await telegram.ask(text_message(CHAT, "/size 2K"))
    reply = await telegram.answer(text_message(CHAT, "a fox"))
    assert reply.params["caption"].endswith("16:9 · 1K · 1376×768 · $0.067 (asked 2K)")


# ---- models that disappear -------------------------------------------------------------------
async def test_a_model_eden_no_longer_lists_is_hidden_and_reported(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    port = free_port()
    bot = await start_bot(HEALTH_PORT=str(port), ALLOWED_MODELS="google/gemini-3-pro-image")
    await bot.wait_for_output("not in Eden's model list")
    shown = await telegram.ask(text_message(CHAT, "/model"))
    assert "gemini-3-pro-image" not in shown
    refused = await telegram.ask(text_message(CHAT, "/model gemini-3-pro-image"))
    assert "not a valid model" in refused
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{port}/healthz")
    assert health.status_code == 200  # a warning, not a failure
    assert health.json()["checks"]["models"] == (
        "google/gemini-3-pro-image is not in Eden's model list, nor is any model that replaces "
        "it: its requests fail until the operator chooses another in EDENAI_MODEL / "
        "ALLOWED_MODELS (`python -m bot check`)"
    )
    assert eden.listings == ["/images/models"]


async def test_a_model_eden_stopped_listing_is_replaced_by_its_successor(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.models = ["google/gemini-nano-banana-2.1"]
    port = free_port()
    bot = await start_bot(HEALTH_PORT=str(port), EDENAI_MODEL="google/gemini-3.1-flash-image")
    await bot.wait_for_output("using its successor")
    reply = await telegram.answer(text_message(CHAT, "a fox"))
    assert reply.method == "sendPhoto"
    assert [c.body["model"] for c in eden.calls] == ["google/gemini-nano-banana-2.1"]
    said = (
        "google/gemini-3.1-flash-image is not in Eden's model list (retired or renamed): using "
        "its successor google/gemini-nano-banana-2.1 (write google/gemini-nano-banana-2.1 in "
        "EDENAI_MODEL / ALLOWED_MODELS to silence this)"
    )
    assert [line for line in bot.output.splitlines() if "using its successor" in line] == [
        line for line in bot.output.splitlines() if said in line
    ]
    assert bot.output.count(said) == 1
    shown = await telegram.ask(text_message(CHAT, "/model"))
    assert "google/gemini-nano-banana-2.1" in shown
    assert "3.1-flash" not in shown
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{port}/healthz")
    assert health.json()["checks"]["models"] == said
    check = await start_bot("check", EDENAI_MODEL="google/gemini-3.1-flash-image")
    assert await check.wait() == 0, check.output
    assert f"[note] model google/gemini-3.1-flash-image: {said}" in check.output.splitlines()


async def test_with_nothing_of_its_line_listed_the_model_stays_and_check_fails(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.models = ["google/gemini-3-pro-image"]
    bot = await start_bot(EDENAI_MODEL="google/gemini-3.1-flash-image")
    await bot.wait_for_output("nor is any model that replaces it")
    assert await telegram.ask(text_message(CHAT, "a fox")) == (
        "The configured image model isn't available. "
        "Retrying won't help; please tell the bot's operator."
    )
    assert [c.body["model"] for c in eden.calls] == ["google/gemini-3.1-flash-image"]
    check = await start_bot("check", EDENAI_MODEL="google/gemini-3.1-flash-image")
    assert await check.wait() == 1
    assert "[FAIL] model google/gemini-3.1-flash-image: not in Eden's model list" in check.output


async def test_a_default_eden_does_not_serve_yet_falls_back_to_its_line(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.models = ["google/gemini-3.1-flash-image", "google/gemini-3-pro-image"]
    bot = await start_bot(EDENAI_MODEL=None)
    await bot.wait_for_output("the newest of its line that Eden lists")
    assert (
        "google/gemini-nano-banana-2.1 is not in Eden's model list (not yet served?): using "
        "google/gemini-3.1-flash-image"
    ) in bot.output
    reply = await telegram.answer(text_message(CHAT, "a fox"))
    assert reply.method == "sendPhoto"
    assert eden.calls[0].body["model"] == "google/gemini-3.1-flash-image"


async def test_an_unknown_model_answer_sends_the_user_to_the_operator(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    eden.then_json(
        {"detail": "google/gemini-3.1-flash-image-preview isn't a registered model"}, status=400
    )
    await start_bot(UPSTREAM_RETRIES="2")
    text = await telegram.ask(text_message(CHAT, "a fox"))
    assert text == (
        "The configured image model isn't available. "
        "Retrying won't help; please tell the bot's operator."
    )
    assert len(eden.calls) == 1


# ---- check --live ----------------------------------------------------------------------------
async def test_check_live_makes_one_small_image_per_protocol_and_a_second_turn(
    start_bot: StartBot, eden: FakeEden
) -> None:
    run = await start_bot("check", "--live")
    assert await run.wait() == 0, run.output
    lines = run.output.splitlines()
    cost_line = next(i for i, line in enumerate(lines) if line.startswith("[live]"))
    assert "3 paid generations of google/gemini-nano-banana-2.1 at 16:9 1K" in lines[cost_line]
    assert "about $0.101 in all" in lines[cost_line]
    assert "and a 512 request per protocol, which should be refused" in lines[cost_line]
    # One per protocol, a second turn of a conversation (tests/test_conversation_e2e.py), then
    # the 512 probes.
    chat, images = "/chat/completions", "/images/generations"
    assert [c.path for c in eden.calls] == [chat, images, chat, chat, images]
    assert [c.body["image_config"]["image_size"] for c in eden.calls] == ["1K"] * 3 + ["512"] * 2
    assert any(line.startswith("[ok]   live conversation: two turns") for line in lines)
    chat = next(line for line in lines if line.startswith("[ok]   live chat:"))
    assert "asked 16:9 1K, received 1376x768 (16:9, 1K)" in chat
    assert "$0.067" in chat
    assert any(line.startswith("[ok]   live images: asked 16:9 1K") for line in lines)
    assert "[ok]   live: 16:9 1K reaches the model via chat and images" in lines
    # Nano Banana 2.1 has no 512 tier, and Eden says so: the table is right for this account.
    for protocol in ("chat", "images"):
        assert (
            f"[ok]   live {protocol} 512: refused (HTTP 400: image_size 512 is not supported by "
            "google/gemini-nano-banana-2.1), as the models file says"
        ) in lines


async def test_check_live_says_when_512_is_accepted_after_all(
    start_bot: StartBot, eden: FakeEden
) -> None:
    # An account on which 2.1 makes 512 after all: every answer is a picture.
    picture = png(1376, 768)
    # One per protocol, the second turn of a conversation, then the 512 probes.
    chat = chat_reply(data_url(picture), cost=0.03)
    images = images_reply(picture, cost=0.03)
    for reply in (chat, images, chat, chat, images):
        eden.then_json(reply)
    run = await start_bot("check", "--live")
    assert await run.wait() == 0, run.output
    for protocol in ("chat", "images"):
        assert (
            f"[note] live {protocol} 512: accepted, though the models file says this model has "
            "no 512 tier"
        ) in run.output
    assert len(eden.calls) == 5


async def test_check_live_says_when_no_protocol_passes_the_ratio_on(
    start_bot: StartBot, eden: FakeEden
) -> None:
    eden.image = png(1024, 1024)
    eden.chat_unsupported = True
    run = await start_bot("check", "--live")
    assert await run.wait() == 1
    assert "[note] live chat: Eden does not serve this model on /chat/completions" in run.output
    assert "received 1024x1024 (1:1, 1K)" in run.output
    assert "[FAIL] live: no protocol delivered 16:9 1K" in run.output


async def test_plain_check_makes_no_generation(start_bot: StartBot, eden: FakeEden) -> None:
    run = await start_bot("check")
    assert await run.wait() == 0
    assert eden.calls == []
