"""Hostile and broken inputs, a broken or full database, webhook abuse, start-up failures and what
the log may hold, through the real bot process."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import socket
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from bot import texts
from bot.imaging import MAX_PIXELS
from tests.conftest import BOT_TOKEN, StartBot, free_port
from tests.fakes.database import rows
from tests.fakes.eden import FakeEden, chat_reply
from tests.fakes.images import jpeg
from tests.fakes.process import REPO, BotProcess
from tests.fakes.telegram import FakeTelegram, document_message, photo_message, text_message

ALICE = 2024


def _database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


def _ledger(tmp_path: Path) -> list[tuple[Any, ...]]:
    return rows(tmp_path, "SELECT kind, outcome, cost_usd FROM requests ORDER BY id")


async def _logged(bot: BotProcess, text: str, timeout: float = 15.0) -> None:
    """Wait until the bot's output holds `text`."""
    async with asyncio.timeout(timeout):
        while text not in bot.output:  # noqa: ASYNC110 - the output is read line by line, unannounced
            await asyncio.sleep(0.05)


def _noise(width: int, height: int, fmt: str) -> bytes:
    """A photo-like image: random pixels do not compress, so cutting the file loses pixels."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, fmt)
    return out.getvalue()


def _gif(*frames: Image.Image) -> bytes:
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=list(frames[1:]))
    return out.getvalue()


def _file(telegram: FakeTelegram, data: bytes, mime: str, caption: str) -> dict[str, Any]:
    return document_message(
        ALICE, telegram.add_file(data, mime.split("/")[1]), mime, len(data), caption
    )


# ---- admission before any download -----------------------------------------------------------
async def test_an_over_quota_photo_is_refused_before_it_is_downloaded(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(USER_DAILY_IMAGES="1")
    assert (await telegram.answer(text_message(ALICE, "a fox"))).method == "sendPhoto"
    photo = jpeg(800, 600)
    message = photo_message(
        ALICE, [(telegram.add_file(photo), 800, 600, len(photo))], caption="edit"
    )
    refusal = await telegram.ask(message)
    assert refusal.startswith("You've used all 1 of today's images.")
    assert telegram.sent("getFile") == []
    assert telegram.downloads == []
    assert len(eden.calls) == 1


# ---- inputs the bot cannot or should not decode ----------------------------------------------
async def test_a_decompression_bomb_is_refused_from_its_header(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    bomb = io.BytesIO()
    Image.new("P", (12000, 12000)).save(bomb, "GIF")  # 144 Mpx in about 100 KB
    bot = await start_bot()
    reply = await telegram.ask(_file(telegram, bomb.getvalue(), "image/gif", "make it blue"))
    assert reply == texts.too_many_pixels(MAX_PIXELS)
    assert "40 megapixels" in reply
    assert eden.calls == []
    # The bot is still there, and the refused request cost nothing.
    assert (await telegram.answer(text_message(ALICE, "a fox"))).method == "sendPhoto"
    await bot.stop()
    assert _ledger(tmp_path) == [("edit", "bad_input", 0.0), ("generate", "ok", 0.067)]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
async def test_a_truncated_image_gets_a_clear_reply_and_never_reaches_eden(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, fmt: str
) -> None:
    whole = _noise(300, 200, fmt)
    cut = whole[: len(whole) // 2]
    await start_bot()
    reply = await telegram.ask(_file(telegram, cut, f"image/{fmt.lower()}", "add a hat"))
    assert reply == texts.BROKEN_IMAGE()
    assert eden.calls == []


async def test_an_animated_gif_is_used_by_its_first_frame_and_the_user_is_told(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    red, green = Image.new("RGB", (60, 40), (255, 0, 0)), Image.new("RGB", (60, 40), (0, 255, 0))
    await start_bot()
    message = await telegram.send(_file(telegram, _gif(red, green), "image/gif", "make it snow"))
    note, result = await telegram.wait_for(("sendMessage", "sendPhoto"), ALICE, count=2)
    assert note.params["text"] == texts.FIRST_FRAME_ONLY()
    assert note.reply_to == result.reply_to == message["message_id"]
    assert result.method == "sendPhoto"
    [call] = eden.calls
    [part] = [p for p in call.body["messages"][0]["content"] if p["type"] == "image_url"]
    sent = Image.open(io.BytesIO(base64.b64decode(part["image_url"]["url"].split(",", 1)[1])))
    assert sent.size == (60, 40)
    r, g, _ = sent.convert("RGB").getpixel((30, 20))  # type: ignore[misc]
    assert r > 240 and g < 15  # red, give or take JPEG's rounding


async def test_a_failed_download_is_told_and_costs_nothing(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    bot = await start_bot()
    gone = photo_message(ALICE, [("no-such-file", 800, 600, 5000)], caption="edit it")
    assert await telegram.ask(gone) == texts.DOWNLOAD_FAILED()
    assert eden.calls == []
    await bot.stop()
    assert _ledger(tmp_path) == [("edit", "bad_input", 0.0)]


# ---- the database ----------------------------------------------------------------------------
@pytest.mark.sqlite_only
async def test_a_corrupt_database_stops_start_up_with_one_line(
    start_bot: StartBot, telegram: FakeTelegram, tmp_path: Path
) -> None:
    database = _database(tmp_path)
    database.parent.mkdir()
    database.write_bytes(b"this is not a database, just garbage\n" * 200)
    bot = await start_bot()
    assert await bot.wait(timeout=20) == 1
    assert "Traceback" not in bot.output
    last = bot.output.strip().splitlines()[-1]
    assert last == f"Cannot start: cannot use the database {database}: file is not a database"


@pytest.mark.sqlite_only
async def test_a_failed_ledger_write_never_undoes_a_delivered_picture(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    bot = await start_bot()
    await telegram.wait_for("setMyCommands")
    # The disk fills while the picture is being made: the job was claimed, its end cannot be
    # written.
    with sqlite3.connect(_database(tmp_path)) as db:
        db.execute(
            "CREATE TRIGGER disk_full BEFORE UPDATE OF outcome ON requests "
            "WHEN NEW.outcome NOT IN ('queued', 'running') "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    message = await telegram.send(text_message(ALICE, "a fox"))
    assert (await telegram.reply_to(message)).method == "sendPhoto"
    await _logged(bot, "the ledger did not take the outcome of request 1 (ok, $0.067)")
    assert "database or disk is full" in bot.output
    assert telegram.sent("sendMessage", ALICE) == []  # no "something went wrong"
    # The user has their picture all the same; the line keeps the estimate it was admitted with
    # (Nano Banana 2.1's 1K list price).
    assert _ledger(tmp_path) == [("generate", "running", 0.0336)]

    # Space is back: the outcome is written at shutdown, and the next start has nothing to
    # apologise for.
    with sqlite3.connect(_database(tmp_path)) as db:
        db.execute("DROP TRIGGER disk_full")
    assert await bot.stop() == 0
    assert _ledger(tmp_path) == [("generate", "ok", 0.067)]
    await start_bot()
    assert (await telegram.answer(text_message(ALICE, "a hare"))).method == "sendPhoto"
    assert telegram.sent("sendMessage", ALICE) == []


@pytest.mark.sqlite_only
async def test_healthz_writes_to_the_database_at_most_every_30_seconds(
    start_bot: StartBot, telegram: FakeTelegram, tmp_path: Path
) -> None:
    port = free_port()
    await start_bot(HEALTH_PORT=str(port))
    await telegram.wait_for("setMyCommands")
    # data_version changes when another connection has committed a write.
    with sqlite3.connect(_database(tmp_path)) as db:

        def version() -> int:
            return int(db.execute("PRAGMA data_version").fetchone()[0])

        before = version()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            first = (await client.get("/healthz")).json()
            after_first = version()
            for _ in range(5):
                assert (await client.get("/healthz")).json()["checks"]["database"] == "ok"
    assert first["checks"]["database"] == "ok"
    assert after_first != before
    assert version() == after_first


# ---- webhook ---------------------------------------------------------------------------------
async def _webhook_bot(start_bot: StartBot, telegram: FakeTelegram) -> tuple[BotProcess, int, str]:
    """A bot in webhook mode with a random secret, its port and that secret, once it listens."""
    port = free_port()
    bot = await start_bot(
        WEBHOOK_URL="https://bot.example.test/hook", WEBHOOK_PORT=str(port), WEBHOOK_SECRET=None
    )  # WEBHOOK_LISTEN left at its default, 127.0.0.1
    [hook] = await telegram.wait_for("setWebhook")
    async with asyncio.timeout(15):
        while True:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return bot, port, hook.params["secret_token"]
            await asyncio.sleep(0.05)


async def _status(port: int, head: bytes, body: bytes = b"") -> bytes:
    """The status line the webhook answers a raw request with; `body` is sent in 64 KiB chunks
    for as long as the server reads it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /hook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n" + head)
    with contextlib.suppress(ConnectionError):
        for start in range(0, len(body), 65536):
            writer.write(body[start : start + 65536])
            await writer.drain()
    async with asyncio.timeout(5):
        status = await reader.readline()
    writer.close()
    return status


def _update(update_id: int, text: str) -> dict[str, Any]:
    message = {**text_message(ALICE, text), "message_id": update_id * 10, "date": 1_790_000_000}
    return {"update_id": update_id, "message": message}


async def test_a_taken_webhook_port_stops_start_up_with_one_line(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        bot = await start_bot(WEBHOOK_URL="https://bot.example.test/hook", WEBHOOK_PORT=str(port))
        assert await bot.wait(timeout=20) == 1
    assert "Traceback" not in bot.output
    last = bot.output.strip().splitlines()[-1]
    assert last.startswith(f"Cannot start: cannot serve the webhook on 127.0.0.1:{port}: ")
    assert telegram.sent("setWebhook") == []


async def test_webhook_refuses_strangers_and_large_bodies_and_masks_its_random_secret(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    bot, port, secret = await _webhook_bot(start_bot, telegram)
    token = f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\n".encode()

    # 2 MB announced: refused from the headers, before the body is read; 403 without the secret.
    big = b"Content-Length: 2000000\r\n\r\n"
    assert (await _status(port, big)).startswith(b"HTTP/1.1 403")
    assert (await _status(port, token + big)).startswith(b"HTTP/1.1 413")
    # A chunked body announces no length: it is read up to 1 MB, then refused.
    chunked = b"".join(b"10000\r\n" + b" " * 65536 + b"\r\n" for _ in range(40))
    assert (await _status(port, token + b"Transfer-Encoding: chunked\r\n\r\n", chunked)).startswith(
        b"HTTP/1.1 413"
    )

    # The bot is still up, and takes a real update.
    async with httpx.AsyncClient() as client:
        accepted = await client.post(
            f"http://127.0.0.1:{port}/hook",
            json=_update(7, "a zebra on a unicycle"),
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        )
    assert accepted.status_code == 200
    [photo] = await telegram.wait_for("sendPhoto", ALICE)
    assert photo.reply_to == 70
    assert await bot.stop() == 0  # SIGTERM: the graceful stop, webhook server and all
    assert "setWebhook" in bot.output
    assert "Traceback" not in bot.output
    assert secret not in bot.output
    assert "unicycle" not in bot.output


@pytest.mark.sqlite_only
async def test_webhook_answers_only_once_the_update_is_recorded_and_a_resend_at_once(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    _, port, secret = await _webhook_bot(start_bot, telegram)
    refuse_jobs = (
        "CREATE TRIGGER disk_full BEFORE INSERT ON requests "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    update = _update(8, "a heron")
    async with httpx.AsyncClient() as client:

        async def post() -> int:
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
            url = f"http://127.0.0.1:{port}/hook"
            return (await client.post(url, json=update, headers=headers)).status_code

        # The job cannot be written: no 200, so Telegram keeps the update and sends it again.
        with sqlite3.connect(_database(tmp_path)) as db:
            db.execute(refuse_jobs)
        assert await post() == 503
        assert _ledger(tmp_path) == []
        with sqlite3.connect(_database(tmp_path)) as db:
            db.execute("DROP TRIGGER disk_full")
        # Sent again, it is handled, and answered once its job is written.
        assert await post() == 200
        assert _ledger(tmp_path) != []
        await telegram.wait_for("sendPhoto", ALICE)
        # A third time it is answered at once: not handled again (that would need a new job,
        # which the database refuses once more).
        with sqlite3.connect(_database(tmp_path)) as db:
            db.execute(refuse_jobs)
        assert await post() == 200
    assert len(eden.calls) == 1
    assert len(telegram.sent("sendPhoto", ALICE)) == 1


# ---- what the log holds ----------------------------------------------------------------------
async def test_prompts_stay_out_of_the_debug_log(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    bot = await start_bot(LOG_LEVEL="DEBUG")
    await telegram.answer(text_message(ALICE, "a flamingo playing chess"))
    photo = jpeg(64, 64)
    message = photo_message(
        ALICE, [(telegram.add_file(photo), 64, 64, len(photo))], caption="paint it mauve"
    )
    await telegram.answer(message)
    await bot.stop()
    assert "Calling Bot API endpoint `sendPhoto`" in bot.output  # the traffic is still logged
    assert "Processing update" in bot.output
    assert "flamingo" not in bot.output
    assert "mauve" not in bot.output


async def test_the_upstreams_words_stay_out_of_the_log(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    """A refusal, a 400's detail or a 5xx's may quote the prompt: only kind and status are
    logged."""
    eden.then_json({"detail": "no flamingo may play chess"}, status=400)
    eden.then_json(chat_reply("I will not draw a flamingo.", finish_reason="stop"))
    eden.then_json({"detail": "flamingo overload"}, status=503)
    bot = await start_bot(LOG_LEVEL="DEBUG", UPSTREAM_RETRIES="0")
    for prompt in ("a flamingo playing chess", "a flamingo", "a flamingo again"):
        assert (await telegram.answer(text_message(ALICE, prompt))).method == "sendMessage"
    await bot.stop()
    assert "upstream failure (bad_request) after 1 attempt(s): bad_request, HTTP 400" in (
        bot.output
    )
    assert "upstream failure (refused) after 1 attempt(s): refused\n" in bot.output
    assert "provider_error, HTTP 503" in bot.output
    assert "flamingo" not in bot.output


async def test_prompts_are_logged_when_asked(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    bot = await start_bot(LOG_LEVEL="DEBUG", LOG_PROMPTS="true")
    await telegram.answer(text_message(ALICE, "a flamingo playing chess"))
    await bot.stop()
    assert "flamingo" in bot.output


# ---- start-up --------------------------------------------------------------------------------
async def test_empty_secrets_are_missing_settings(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    bot = await start_bot(TELEGRAM_BOT_TOKEN="", EDENAI_API_KEY=" ")
    assert await bot.wait() == 2
    assert bot.output.strip() == (
        "Configuration error: Missing setting TELEGRAM_BOT_TOKEN: set it in the environment or in "
        ".env; Missing setting EDENAI_API_KEY: set it in the environment or in .env"
    )
    assert telegram.calls == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}", "127.0.0.1:{port}"])
async def test_an_unreachable_telegram_is_one_line_without_the_token(
    start_bot: StartBot, url: str
) -> None:
    bot = await start_bot(TELEGRAM_API_URL=url.format(port=free_port()), LOG_LEVEL="DEBUG")
    assert await bot.wait() == 1
    assert "Traceback" not in bot.output
    assert BOT_TOKEN.split(":")[1] not in bot.output
    last = bot.output.strip().splitlines()[-1]
    assert last.startswith("Cannot start: no answer from Telegram at ")


def test_the_package_declares_its_license_the_spdx_way() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert project["build-system"]["requires"] == ["setuptools>=77"]
