"""Operator commands: `check` the set-up, `generate` one image from the terminal, probe `health`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Set as AbstractSet
from pathlib import Path

import httpx
from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot import imaging, texts
from bot.app import eden_client, run
from bot.config import (
    BotSettings,
    ConfigError,
    EdenSettings,
    ServerSettings,
    Settings,
    load_area,
    load_settings,
)
from bot.domain import ImageRequest, ImageResult
from bot.fidelity import compare
from bot.lineup.availability import describe, replacement_for
from bot.lineup.catalog import (
    BUILTIN_MODELS_FILE,
    capabilities_for,
    describe_changes,
    load_lineup,
    normalize_ratio,
    normalize_size,
    successor,
)
from bot.ops.live_check import live_check
from bot.ops.logs import RedactingFormatter, configure_logging
from bot.store.storage import StorageError, open_storage
from bot.telegram.webhook import WebhookUnavailable
from bot.upstream import EdenClient, UpstreamError

# ---- check -----------------------------------------------------------------------------------


class Report:
    """One line per check; the exit status is 0 only if every check passed. Errors may quote a
    URL with the bot token in it, so every line is masked."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.failed = False
        self._mask = RedactingFormatter(secrets).redact

    def ok(self, what: str, detail: str = "") -> None:
        print(self._mask(f"[ok]   {what}{': ' + detail if detail else ''}"))

    def note(self, what: str, detail: str) -> None:
        """Worth knowing, but not a failure."""
        print(self._mask(f"[note] {what}: {detail}"))

    def fail(self, what: str, problem: str, fix: str) -> None:
        self.failed = True
        print(self._mask(f"[FAIL] {what}: {problem}\n       fix: {fix}"))


async def check(settings: Settings, live: bool = False) -> int:
    report = Report(settings.secrets)
    report.ok("configuration", f"model {settings.eden.model}, {settings.eden.api_mode} mode")
    _report_models_file(settings.eden, report)
    for notice in settings.eden.model_notices():
        report.note("model", notice)
    await _check_telegram(settings, report)
    await _check_eden(settings, report)
    await _check_database(settings, report)
    if live:
        await live_check(settings.eden, report)
    return 1 if report.failed else 0


async def _check_telegram(settings: Settings, report: Report) -> None:
    api = settings.telegram.api_url.rstrip("/")
    bot = Bot(
        settings.telegram.bot_token.get_secret_value(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
    )
    try:
        async with bot:
            me = bot.bot
        report.ok("telegram", f"@{me.username} (id {me.id})")
    except InvalidToken:
        report.fail("telegram", "the token was refused", "check TELEGRAM_BOT_TOKEN with @BotFather")
    except TelegramError as exc:
        report.fail(
            "telegram", f"no answer from {api}: {exc}", "check TELEGRAM_API_URL and the network"
        )
    else:
        _report_inline_mode(me.supports_inline_queries, report)


def _report_inline_mode(enabled: bool | None, report: Report) -> None:
    """Inline mode is optional, so it is a note, not a failure. getMe says whether it is on, but
    not inline feedback, without which a chosen inline result never reaches the bot."""
    if enabled:
        report.ok("inline mode", "on")
    else:
        report.note("inline mode", "off; to offer `@bot a prompt`, send @BotFather /setinline")
    report.note(
        "inline feedback",
        "Telegram does not say whether it is on; inline mode needs it: @BotFather "
        "/setinlinefeedback, 100%",
    )


def _report_models_file(eden: EdenSettings, report: Report) -> None:
    """Which lineup is used (MODELS_FILE was read and checked already), and what an operator's
    copy changes against the built-in one."""
    lineup = eden.lineup
    report.ok("models file", f"{lineup.source}: {len(lineup.models)} models")
    if eden.models_file is None:
        return
    changes = describe_changes(load_lineup(BUILTIN_MODELS_FILE), lineup)
    report.note("models file", "; ".join(changes) if changes else "the same as the built-in one")


async def _check_eden(settings: Settings, report: Report) -> None:
    eden = settings.eden
    client = EdenClient(base_url=eden.base_url, api_key=eden.api_key.get_secret_value())
    try:
        listed = await client.list_models()
    except UpstreamError as exc:
        fix = "check EDENAI_API_KEY" if exc.kind == "auth_failed" else "check EDENAI_BASE_URL"
        report.fail("eden", f"the model list failed ({exc.kind}): {exc}", fix)
        return
    finally:
        await client.aclose()
    report.ok("eden", f"{len(listed)} models listed")
    known = frozenset(name.lower() for name in listed)
    for index, model in enumerate(eden.models):
        used = replacement_for(model, known, default=index == 0)
        if used == model:
            report.ok(f"model {model}", "listed")
        elif used is not None:
            report.note(f"model {model}", describe(model, used))
        else:
            report.fail(
                f"model {model}",
                "not in Eden's model list (retired, renamed, or not in your region), nor is "
                "any model that replaces it",
                "pick one that Eden lists, in EDENAI_MODEL / ALLOWED_MODELS",
            )
    await _check_text_model(eden, known, report)


async def _check_text_model(eden: EdenSettings, known: AbstractSet[str], report: Report) -> None:
    """The text model (/describe, /enhance) in Eden's `/models`, where text models are listed
    (the image list may already be that one)."""
    what = f"text model {eden.text_model}"
    if eden.text_model.lower() not in known:
        client = EdenClient(base_url=eden.base_url, api_key=eden.api_key.get_secret_value())
        try:
            known = {name.lower() for name in await client.list_text_models()}
        except UpstreamError as exc:
            report.fail(what, f"the model list failed ({exc.kind}): {exc}", "check EDENAI_BASE_URL")
            return
        finally:
            await client.aclose()
    if eden.text_model.lower() in known:
        report.ok(what, "listed")
    else:
        report.fail(
            what,
            "not in Eden's model list",
            "pick a text model Eden lists on /models (a cheap Gemini), in EDENAI_TEXT_MODEL",
        )


async def _check_database(settings: Settings, report: Report) -> None:
    database = settings.database
    fix = "check DATABASE_URL" if database.url else "make DATA_DIR writable"
    try:
        storage = await open_storage(database.url, settings.database_path, 2)
        await storage.close()
        report.ok("database", storage.where)
    except Exception as exc:
        report.fail("database", str(exc), fix)


# ---- generate --------------------------------------------------------------------------------


def generate(args: argparse.Namespace) -> int:
    eden, defaults = load_area(EdenSettings), load_area(BotSettings)
    model = successor(args.model or "") or args.model or eden.model
    caps = capabilities_for(model)
    ratio = normalize_ratio(args.ratio or defaults.default_aspect_ratio)
    size = normalize_size(args.size or defaults.default_image_size)
    if ratio not in caps.aspect_ratios or size not in caps.image_sizes:
        ratios, sizes = " ".join(caps.aspect_ratios), " ".join(caps.image_sizes)
        print(f"{model} makes ratios {ratios} and sizes {sizes}", file=sys.stderr)
        return 2
    try:
        pictures = tuple(
            imaging.fit_for_model(imaging.inspect(Path(p).read_bytes()), caps.input_mimes)
            for p in args.image
        )
    except (OSError, imaging.NotAnImage) as exc:
        print(f"cannot use that input image: {exc}", file=sys.stderr)
        return 2
    client = eden_client(eden)
    request = ImageRequest(args.prompt, model, ratio, size, pictures)
    try:
        result = asyncio.run(_generate(client, request))
    except UpstreamError as exc:
        print(f"{texts.upstream_failure(exc)}\n({exc.kind}: {exc})", file=sys.stderr)
        return 1
    output = Path(args.output)
    output.write_bytes(result.picture.data)
    cost = f", ${result.cost_usd:.3f}" if result.cost_usd is not None else ""
    picture = result.picture
    shape = f"{picture.width}x{picture.height} {picture.mime}"
    print(f"wrote {output}: {shape}{cost} via {client.protocol}")
    delivered = compare(request, picture)
    if not delivered.as_asked:
        got = f"{delivered.shape.aspect_ratio} {delivered.shape.image_size}"
        print(f"note: asked {ratio} {size} but received {got}: try `check --live`")
    if output.suffix.lstrip(".").lower() not in (picture.extension, "jpeg"):
        print(f"note: the image is {picture.mime}, whatever {output.name} suggests")
    return 0


async def _generate(client: EdenClient, request: ImageRequest) -> ImageResult:
    try:
        async with client.generate(request) as result:
            return result
    finally:
        await client.aclose()


# ---- health ----------------------------------------------------------------------------------


def health() -> int:
    """For the container's HEALTHCHECK: 0 if the running bot says it is healthy."""
    server = load_area(ServerSettings)
    if not server.health_port:
        print("HEALTH_PORT is 0: the health endpoint is off", file=sys.stderr)
        return 1
    try:
        response = httpx.get(f"http://127.0.0.1:{server.health_port}/healthz", timeout=5)
    except httpx.HTTPError as exc:
        print(f"no answer from the bot: {exc}", file=sys.stderr)
        return 1
    print(response.text)
    return 0 if response.status_code == 200 else 1


# ---- the command line ------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bot", description="The Eden image bot.")
    commands = root.add_subparsers(dest="command")
    commands.add_parser("run", help="run the bot (the default)")
    check_command = commands.add_parser(
        "check", help="check the configuration, Telegram, Eden and the database (free)"
    )
    check_command.add_argument(
        "--live",
        action="store_true",
        help="also make one small paid image per protocol: do the ratio and size reach Gemini?",
    )
    commands.add_parser("health", help="ask the running bot whether it is healthy")
    gen = commands.add_parser("generate", help="generate or edit one image, without Telegram")
    gen.add_argument("prompt")
    gen.add_argument("--ratio", help="aspect ratio, e.g. 16:9 (default: DEFAULT_ASPECT_RATIO)")
    gen.add_argument("--size", help="512, 1K, 2K or 4K (default: DEFAULT_IMAGE_SIZE)")
    gen.add_argument("--model", help="model (default: EDENAI_MODEL)")
    gen.add_argument("--image", action="append", default=[], help="an input image to edit")
    gen.add_argument("-o", "--output", required=True, help="where to write the image")
    return root


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "health":
            return health()
        if args.command == "generate":
            return generate(args)
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        # The report is the output; library chatter would only bury it.
        configure_logging("WARNING", settings.secrets, settings.bot.log_format)
        return asyncio.run(check(settings, live=args.live))
    bot = settings.bot
    configure_logging(bot.log_level, settings.secrets, bot.log_format, settings.access.log_prompts)
    try:
        run(settings)
    except InvalidToken:
        print("Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather", file=sys.stderr)
        return 2
    except TelegramError as exc:
        api = settings.telegram.api_url
        return _cannot_start(settings, f"no answer from Telegram at {api} ({exc})")
    except (StorageError, WebhookUnavailable) as exc:
        return _cannot_start(settings, str(exc))
    return 0


def _cannot_start(settings: Settings, reason: str) -> int:
    """One line, with the secrets masked: an error's text may quote a URL with the token in it."""
    print(RedactingFormatter(settings.secrets).redact(f"Cannot start: {reason}"), file=sys.stderr)
    return 1
