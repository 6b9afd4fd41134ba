"""Running it for real: `check`, `generate`, `health`, JSON logs, /healthz and /metrics, webhook
mode, and the container files."""

from __future__ import annotations

import base64
import json
import re
import shlex
import socket
from pathlib import Path

import httpx
import pytest
import yaml

from bot import config
from bot.cli import parser
from tests.conftest import BOT_TOKEN, StartBot, free_port
from tests.fakes.eden import FakeEden
from tests.fakes.images import jpeg, png
from tests.fakes.process import REPO
from tests.fakes.telegram import FakeTelegram, text_message
from tests.test_catalog import _ONE_MODEL

CHAT = 3131


# ---- python -m bot check ---------------------------------------------------------------------
async def test_check_passes_when_everything_answers(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    run = await start_bot("check", ALLOWED_MODELS="google/gemini-2.5-flash-image")
    assert await run.wait() == 0
    lines = run.output.splitlines()
    assert "[ok]   telegram: @EdenImageTestBot (id 777000)" in lines
    assert "[ok]   eden: 3 models listed" in lines
    assert "[ok]   model google/gemini-nano-banana-2.1: listed" in lines
    assert f"[ok]   models file: {REPO / 'bot' / 'lineup' / 'models.toml'}: 8 models" in lines
    assert "[ok]   model google/gemini-2.5-flash-image: listed" in lines
    assert any(line.startswith("[ok]   database: ") for line in lines)
    # The text model is listed on /models, with Eden's text models.
    assert "[ok]   text model google/gemini-2.5-flash: listed" in lines
    assert eden.listings == ["/images/models", "/models"]
    # getMe says whether inline mode is on, but nothing about inline feedback.
    assert "[note] inline mode: off; to offer `@bot a prompt`, send @BotFather /setinline" in lines
    assert any(line.startswith("[note] inline feedback: Telegram does not say") for line in lines)


async def test_check_reports_inline_mode_from_get_me(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.supports_inline_queries = True
    run = await start_bot("check")
    assert await run.wait() == 0
    assert "[ok]   inline mode: on" in run.output.splitlines()
    assert "/setinlinefeedback" in run.output


async def test_check_falls_back_to_the_older_model_list(
    start_bot: StartBot, eden: FakeEden
) -> None:
    eden.models_path = "/models"
    run = await start_bot("check")
    assert await run.wait() == 0
    assert eden.listings == ["/images/models", "/models"]


async def test_check_names_each_problem_and_its_fix(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    run = await start_bot(
        "check",
        TELEGRAM_BOT_TOKEN="999:wrong-token-zzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        EDENAI_API_KEY="wrong-key",
        ALLOWED_MODELS="google/gemini-3-pro-image",
    )
    assert await run.wait() == 1
    assert "[FAIL] telegram: the token was refused" in run.output
    assert "fix: check TELEGRAM_BOT_TOKEN" in run.output
    assert "[FAIL] eden: the model list failed (auth_failed)" in run.output
    assert "fix: check EDENAI_API_KEY" in run.output
    assert "wrong-token" not in run.output
    assert "wrong-key" not in run.output


async def test_check_reports_a_model_eden_does_not_list(
    start_bot: StartBot, eden: FakeEden
) -> None:
    run = await start_bot("check", ALLOWED_MODELS="google/gemini-3-pro-image")
    assert await run.wait() == 1
    assert "[FAIL] model google/gemini-3-pro-image: not in Eden's model list" in run.output
    assert "[ok]   model google/gemini-nano-banana-2.1: listed" in run.output


async def test_an_operators_models_file_adds_a_model_without_a_new_version(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    models = tmp_path / "my-models.toml"
    models.write_text((REPO / "bot" / "lineup" / "models.toml").read_text() + _ONE_MODEL)
    eden.models.append("google/gemini-next-image")
    settings = {"MODELS_FILE": str(models), "EDENAI_MODEL": "google/gemini-next-image"}
    run = await start_bot("check", **settings)
    assert await run.wait() == 0, run.output
    lines = run.output.splitlines()
    assert f"[ok]   models file: {models}: 9 models" in lines
    assert "[note] models file: adds gemini-next-image" in lines
    assert "[ok]   model google/gemini-next-image: listed" in lines
    await start_bot(**settings)
    menu = await telegram.answer(text_message(CHAT, "/size"))
    buttons = [b["text"] for row in menu.params["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["✓ 1K", "2K"]
    assert "can't make the aspect ratio 21:9" in await telegram.ask(
        text_message(CHAT, "/ratio 21:9")
    )


async def test_a_wrong_models_file_stops_check_and_start_with_what_is_wrong(
    start_bot: StartBot, tmp_path: Path
) -> None:
    models = tmp_path / "my-models.toml"
    models.write_text(_ONE_MODEL.replace('sizes = ["1K", "2K"]', 'sizes = ["1K", "8K"]'))
    for command in ("check", "run"):
        run = await start_bot(command, MODELS_FILE=str(models))
        assert await run.wait() == 2
        assert (
            "Configuration error: Invalid setting MODELS_FILE: Value error, gemini-next-image: "
            "sizes must be a list out of 512 1K 2K 4K, smallest first"
        ) in run.output


# ---- python -m bot generate ------------------------------------------------------------------
async def test_generate_writes_the_image(
    start_bot: StartBot, eden: FakeEden, tmp_path: Path
) -> None:
    eden.image = png(1376, 768, (3, 4, 5))
    out = tmp_path / "fox.png"
    run = await start_bot(
        "generate",
        "a fox",
        "--ratio",
        "16:9",
        "--size",
        "2k",
        "-o",
        str(out),
        TELEGRAM_BOT_TOKEN=None,
    )
    assert await run.wait() == 0
    assert out.read_bytes() == eden.last_image
    assert f"wrote {out}: 1376x768 image/png, $0.067 via chat" in run.output
    [call] = eden.calls
    assert call.body["image_config"] == {"aspect_ratio": "16:9", "image_size": "2K"}


async def test_generate_edits_input_images(
    start_bot: StartBot, eden: FakeEden, tmp_path: Path
) -> None:
    photo = tmp_path / "in.jpg"
    photo.write_bytes(jpeg(120, 80))
    run = await start_bot(
        "generate", "add a hat", "--image", str(photo), "-o", str(tmp_path / "out.png"),
        EDENAI_API_MODE="images",
    )  # fmt: skip
    assert await run.wait() == 0
    [call] = eden.calls
    assert call.path == "/images/edits"
    sent = call.body["images"][0]["image_url"].split(",", 1)[1]
    assert base64.b64decode(sent) == photo.read_bytes()


async def test_generate_refuses_what_the_model_cannot_do(
    start_bot: StartBot, eden: FakeEden, tmp_path: Path
) -> None:
    run = await start_bot(
        "generate", "x", "--ratio", "8:1", "--model", "google/gemini-2.5-flash-image",
        "-o", str(tmp_path / "x.png"),
    )  # fmt: skip
    assert await run.wait() == 2
    assert "google/gemini-2.5-flash-image makes ratios 1:1 16:9" in run.output
    assert eden.calls == []


# ---- logs, health, metrics -------------------------------------------------------------------
async def test_json_logs_carry_one_line_per_request(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    bot = await start_bot(LOG_FORMAT="json", LOG_LEVEL="INFO")
    await telegram.answer(text_message(CHAT, "a fox"))
    await bot.stop()
    entries = [json.loads(line) for line in bot.output.splitlines() if line.startswith("{")]
    assert entries
    assert len(entries) == len([line for line in bot.output.splitlines() if line.strip()])
    [request] = [e for e in entries if e.get("event") == "request"]
    assert request["chat"] == CHAT
    assert request["kind"] == "generate"
    assert request["outcome"] == "ok"
    assert request["cost_usd"] == 0.067
    assert request["model"] == "google/gemini-nano-banana-2.1"
    assert request["latency_s"] >= 0
    assert BOT_TOKEN not in bot.output


async def test_healthz_and_metrics(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    port = free_port()
    eden.then_json({"error": {"message": "boom"}}, status=500)
    await start_bot(HEALTH_PORT=str(port))
    await telegram.answer(text_message(CHAT, "fails"))
    await telegram.answer(text_message(CHAT, "works"))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        health = await client.get("/healthz")
        metrics = (await client.get("/metrics")).text
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["checks"]["updates"] == "ok"
    assert health.json()["checks"]["database"] == "ok"
    assert 'bot_requests_total{outcome="ok"} 1.0' in metrics
    assert 'bot_requests_total{outcome="provider_error"} 1.0' in metrics
    assert 'bot_upstream_errors_total{kind="provider_error"} 1.0' in metrics
    assert 'bot_images_sent_total{as="photo"} 1.0' in metrics
    assert "bot_request_seconds_count 2.0" in metrics
    assert "bot_queue_length 0.0" in metrics
    assert re.search(r"^bot_database_round_trips_total [1-9]", metrics, re.MULTILINE)


async def test_the_health_command(start_bot: StartBot, telegram: FakeTelegram) -> None:
    port = free_port()
    await start_bot(HEALTH_PORT=str(port))
    # Answering an update, it is taking them: healthy (during its start-up it is not yet).
    await telegram.answer(text_message(CHAT, "/help"))
    probe = await start_bot("health", HEALTH_PORT=str(port))
    assert await probe.wait() == 0
    assert '"status": "ok"' in probe.output
    # A port held but not listening: nothing else can take it meanwhile, and it refuses.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        nobody = await start_bot("health", HEALTH_PORT=str(held.getsockname()[1]))
        assert await nobody.wait() == 1
    assert "no answer from the bot" in nobody.output


# ---- webhook mode ----------------------------------------------------------------------------
async def test_webhook_mode_takes_updates_only_with_the_secret(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    port, health_port = free_port(), free_port()
    await start_bot(
        WEBHOOK_URL="https://bot.example.test/tg-hook",
        WEBHOOK_SECRET="s3cret-token",
        WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=str(port),
        HEALTH_PORT=str(health_port),
    )
    [hook] = await telegram.wait_for("setWebhook")  # sent once the server listens
    assert hook.params["url"] == "https://bot.example.test/tg-hook"
    assert hook.params["secret_token"] == "s3cret-token"

    def update(update_id: int, text: str) -> dict[str, object]:
        message = text_message(CHAT, text)
        message.update(message_id=update_id, date=1_790_000_000)
        return {"update_id": update_id, "message": message}

    url = f"http://127.0.0.1:{port}/tg-hook"
    async with httpx.AsyncClient() as client:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            refused = await client.post(url, json=update(1, "sneaky"), headers=headers)
            assert refused.status_code == 403
        accepted = await client.post(
            url,
            json=update(2, "a fox by webhook"),
            headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"},
        )
        assert accepted.status_code == 200
        [photo] = await telegram.wait_for("sendPhoto", CHAT)
        health = (await client.get(f"http://127.0.0.1:{health_port}/healthz")).json()
    assert photo.reply_to == 2
    assert [c.body["messages"][0]["content"] for c in eden.calls] == ["a fox by webhook"]
    assert health["checks"]["webhook"] == "ok"
    assert health["status"] == "ok"


# ---- the container ---------------------------------------------------------------------------
def _dockerfile() -> dict[str, list[str]]:
    """Instruction -> arguments of the final stage, continuation lines joined."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    final = text.split("\nFROM ")[-1]
    stage: dict[str, list[str]] = {}
    for line in ("FROM " + final).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, rest = line.strip().partition(" ")
            stage.setdefault(instruction.upper(), []).append(rest.strip())
    return stage


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
    return [str(v) for v in value]


def test_the_dockerfile_runs_what_the_package_has() -> None:
    stage = _dockerfile()
    assert _exec_form(stage["CMD"][-1]) == ["python", "-m", "bot"]
    assert (REPO / "bot" / "__main__.py").exists()
    [user] = stage["USER"]
    assert user not in ("root", "0")
    assert any("useradd" in run and user in run for run in stage["RUN"])
    assert _exec_form(stage["VOLUME"][0]) == ["/data"]
    assert "DATA_DIR=/data" in " ".join(stage["ENV"])
    healthcheck = stage["HEALTHCHECK"][0]
    command = _exec_form(healthcheck.split("CMD", 1)[1].strip())
    assert command[:3] == ["python", "-m", "bot"]
    assert parser().parse_args(command[3:]).command == "health"
    assert stage["STOPSIGNAL"] == ["SIGTERM"]


def test_compose_keeps_data_restarts_and_gives_the_grace_period() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    service = compose["services"]["bot"]
    assert service["restart"] == "unless-stopped"
    assert service["env_file"] == ".env"
    assert any(volume.endswith(":/data") for volume in service["volumes"])
    grace = int(str(service["stop_grace_period"]).rstrip("s"))
    assert grace > 30  # SHUTDOWN_GRACE_SECONDS' default


def test_the_replicas_profile_runs_three_replicas_on_postgresql_behind_a_proxy() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert "profiles" not in services["bot"]  # `docker compose up` is still the single bot
    replica, postgres, proxy = services["replica"], services["postgres"], services["proxy"]
    assert {s["profiles"][0] for s in (replica, postgres, proxy)} == {"replicas"}
    assert replica["deploy"]["replicas"] == 3
    assert replica["environment"]["DATABASE_URL"].startswith("postgresql://bot:")
    assert replica["environment"]["DATABASE_URL"].endswith("@postgres:5432/bot")
    assert replica["environment"]["WEBHOOK_LISTEN"] == "0.0.0.0"
    assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    [mount] = proxy["volumes"]
    source = mount.split(":")[0]
    nginx = (REPO / source).read_text()
    assert "server replica:8443" in nginx
    assert "proxy_pass http://bot_replicas;" in nginx
    assert "client_max_body_size 1m;" in nginx


def test_the_deploy_files_need_a_password_publish_no_open_http_and_pin_their_images() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    required = "${POSTGRES_PASSWORD:?"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(required)
    assert f":{required}" in services["replica"]["environment"]["DATABASE_URL"]
    assert "POSTGRES_PASSWORD:-" not in text
    # nginx speaks plain HTTP: published on the host's loopback only, for a TLS terminator.
    for port in services["proxy"]["ports"]:
        assert str(port).startswith("127.0.0.1:"), port
    # Exact releases, not moving tags such as python:3.11-slim or postgres:16.
    dockerfile = (REPO / "Dockerfile").read_text()
    images = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    images += [s["image"] for s in services.values() if "image" in s]
    exact = {"python": r"3\.11\.\d+-", "postgres": r"16\.\d+-", "nginx": r"1\.\d+\.\d+-"}
    for image in images:
        name, _, tag = image.partition(":")
        assert re.match(exact[name], tag) or "@sha256:" in image, image


@pytest.mark.parametrize("name", [".dockerignore", ".env.example"])
def test_the_files_operators_need_exist(name: str) -> None:
    assert (REPO / name).read_text().strip()


def test_every_setting_is_documented() -> None:
    example = (REPO / ".env.example").read_text()
    readme = (REPO / "README.md").read_text()
    for cls in config.AREAS.values():
        for field in cls.model_fields:
            variable = config.env_name(cls, field)
            assert f"\n{variable}=" in example, variable
            assert f"`{variable}`" in readme, variable
