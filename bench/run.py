"""Benchmark: the real bot (`python -m bot`) against the fake Telegram and Eden servers on
loopback. Prints the bot's own overhead per request (1K and 4K images), how close N concurrent
chats come to one upstream latency, the bot's peak memory and CPU time per request, and how it
holds a crowd far larger than its generation cap (commands answered meanwhile, Telegram calls
per request, memory, time to drain).

    .venv/bin/python bench/run.py [--chats 200] [--latency 3] [--samples 40] [--only crowd]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import uvloop
from aiohttp import web
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.eden import API_KEY, FakeEden
from tests.fakes.process import BotProcess
from tests.fakes.telegram import Call, FakeTelegram, text_message

TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstuvwxyz"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def test_image(kind: str, width: int, height: int) -> bytes:
    """`photo`: a PNG about as compressible as a generated picture (smooth shapes plus grain),
    megabytes like the real thing. `flat`: one colour, a few kilobytes, so that the bot's own
    work shows rather than the cost of moving megabytes."""
    if kind == "flat":
        image = Image.new("RGB", (width, height), (40, 120, 200))
    else:
        gradient = Image.linear_gradient("L").resize((width, height))
        image = Image.merge(
            "RGB",
            [
                Image.blend(gradient.rotate(angle), Image.effect_noise((width, height), 24), 0.35)
                for angle in (0, 90, 180)
            ],
        )
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=6)
    return out.getvalue()


class TimedEden:
    """Answers every image request after exactly `latency` seconds with a prepared body, and
    notes how long each request spent inside the fake (to subtract it from the bot's time)."""

    def __init__(self, eden: FakeEden) -> None:
        self.eden = eden
        self.latency = 0.0
        self.body = b""
        self.spent: list[float] = []

    def serve(self, image: bytes, latency: float, count: int) -> None:
        self.latency = latency
        reply = {
            "choices": [{"message": {"content": "data:image/png;base64,"
                                     + base64.b64encode(image).decode()}, "finish_reason": "stop"}],
            "cost": 0.067,
        }  # fmt: skip
        self.body = json.dumps(reply).encode()
        for _ in range(count):
            self.eden.then(self._respond)

    async def _respond(self, request: web.Request, _: Any) -> web.StreamResponse:
        started = time.perf_counter()
        await asyncio.sleep(self.latency)
        response = web.Response(body=self.body, content_type="application/json")
        self.spent.append(time.perf_counter() - started)
        return response


def _proc(pid: int) -> tuple[float, int]:
    """(CPU seconds so far, peak RSS in KiB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return cpu, _status(pid, "VmHWM")


def _status(pid: int, field: str) -> int:
    """A KiB figure from /proc/PID/status: VmRSS (now) or VmHWM (peak)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith(field))


async def start_bot(
    telegram: FakeTelegram, eden: FakeEden, data: Path, chats: int, rate_limit: bool = False
) -> BotProcess:
    bot = BotProcess(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": telegram.url,
            "EDENAI_API_KEY": API_KEY,
            "EDENAI_BASE_URL": eden.base_url,
            "DATA_DIR": str(data),
            "LOG_LEVEL": "WARNING",
            "HEALTH_PORT": "0",
            "UPSTREAM_RETRIES": "0",
            # The fake has no flood limits; Telegram's own would cap any bot at ~30 messages/s.
            # The crowd keeps the bot's limiter on: keeping within it is what it measures.
            "TELEGRAM_RATE_LIMIT": "true" if rate_limit else "false",
            "MAX_CONCURRENT_GENERATIONS": str(chats),
            # Every chat is a stranger, and the samples would pass an open bot's daily limit.
            "ALLOW_EVERYONE": "true",
            "USER_DAILY_IMAGES": "0",
        },
        cwd=data,
    )
    started = len(telegram.sent("setMyCommands"))
    await bot.start()
    await telegram.wait_for("setMyCommands", count=started + 1, timeout=30)
    return bot


async def overhead(
    telegram: FakeTelegram, timed: TimedEden, image: bytes, samples: int, first_chat: int
) -> list[float]:
    """Per request: update served -> image received at the fake Telegram, minus the fake
    upstream's time."""
    timed.spent.clear()
    timed.serve(image, latency=0.05, count=samples + 3)
    results = []
    for i in range(samples + 3):
        chat = first_chat + i
        message = await telegram.send(text_message(chat, f"overhead sample {i}"))
        [sent] = await telegram.wait_for(("sendPhoto", "sendDocument"), chat, timeout=120)
        served = telegram.served_at[message["message_id"]]
        assert list(sent.sizes.values()) == [len(image)], "the image arrived altered"
        if i >= 3:  # the first requests warm up connections and caches
            results.append(sent.at - served - timed.spent[-1])
    return results


async def concurrency(
    telegram: FakeTelegram, timed: TimedEden, image: bytes, chats: int, latency: float
) -> float:
    """All `chats` send at once; the wall time from the first update served to the last image."""
    timed.serve(image, latency=latency, count=chats)
    messages = [
        await telegram.send(text_message(100_000 + i, f"concurrent {i}")) for i in range(chats)
    ]
    chat_ids = {m["chat"]["id"] for m in messages}

    def delivered() -> list[Call]:
        return [
            c
            for c in telegram.calls
            if c.method in ("sendPhoto", "sendDocument") and c.chat_id in chat_ids
        ]

    await telegram.wait_until(lambda: len(delivered()) == chats, timeout=600)
    assert all(list(c.sizes.values()) == [len(image)] for c in delivered()), "an image altered"
    served = min(telegram.served_at[m["message_id"]] for m in messages)
    calls = [c.at - served for c in timed.eden.calls[-chats:]]
    images = [c.at - served for c in delivered()]
    print(f"   upstream calls began {min(calls):.2f}-{max(calls):.2f} s after the updates")
    print(f"   images arrived {min(images):.2f}-{max(images):.2f} s after")
    return max(images)


async def crowd(
    telegram: FakeTelegram, timed: TimedEden, image: bytes, size: int, cap: int, latency: float,
    pid: int,
) -> None:  # fmt: skip
    """`size` chats send one prompt each at once, at a cap of `cap`. Meanwhile other users send
    /help every 2 s: how long until it is answered. Then: the bot's Telegram calls per request
    and in the busiest second, its memory with the crowd queued, and the time to drain."""
    timed.serve(image, latency=latency, count=size)
    rss_idle = _status(pid, "VmRSS")
    chats = range(200_000, 200_000 + size)
    messages = [await telegram.send(text_message(chat, f"crowd {chat}")) for chat in chats]

    def delivered() -> int:
        return sum(1 for c in telegram.sent("sendPhoto") if 200_000 <= (c.chat_id or 0) < 300_000)

    help_seconds: list[float] = []
    rss_queued = 0
    for probe in range(20):
        if delivered() > size * 0.9:
            break
        await asyncio.sleep(2)
        asked = await telegram.send(text_message(900_000 + probe, "/help"))
        answer = await telegram.reply_to(asked, timeout=60)
        help_seconds.append(answer.at - telegram.served_at[asked["message_id"]])
        rss_queued = max(rss_queued, _status(pid, "VmRSS"))
    ideal = size * latency / cap
    await telegram.wait_until(lambda: delivered() == size, timeout=ideal * 3 + 120)
    photos = [c for c in telegram.sent("sendPhoto") if 200_000 <= (c.chat_id or 0) < 300_000]
    first = min(telegram.served_at[m["message_id"]] for m in messages)
    drain = max(c.at for c in photos) - first
    answered = {c.chat_id for c in photos}
    replies = {(c.chat_id, c.reply_to) for c in photos}
    if answered != set(chats) or len(photos) != size or len(replies) != size:
        print(f"   !!! {len(photos)} photos to {len(answered)} of {size} chats: NOT ONE EACH")
    # Queue notes are deleted within the cosmetic budget, after the pictures: counted too.
    notes = sum(1 for c in telegram.sent("sendMessage") if 200_000 <= (c.chat_id or 0) < 300_000)
    await telegram.wait_until(
        lambda: (
            len([c for c in telegram.sent("deleteMessage") if (c.chat_id or 0) >= 200_000]) >= notes
        ),
        timeout=600,
    )
    crowd_calls = [c for c in telegram.calls if 200_000 <= (c.chat_id or 0) < 300_000]
    by_method = Counter(c.method for c in crowd_calls)
    per_second = Counter(int(c.at) for c in telegram.calls if c.at >= first)
    print(f"   /help while queued: p50 {ms(help_seconds, 50)}   p95 {ms(help_seconds, 95)}"
          f"   ({len(help_seconds)} asked)")  # fmt: skip
    print(
        f"   Telegram calls per request {len(crowd_calls) / size:.2f}: "
        + ", ".join(f"{method} {count}" for method, count in by_method.most_common())
    )
    print(f"   busiest second: {max(per_second.values())} calls (all of the bot's)")
    print(f"   drain {drain:.0f} s, ideal {ideal:.0f} s ({size} x {latency} s / {cap}): "
          f"ratio {drain / ideal:.3f}")  # fmt: skip
    print(
        f"   RSS idle {rss_idle / 1024:.0f} MB, with the crowd queued up to "
        f"{rss_queued / 1024:.0f} MB, peak {_status(pid, 'VmHWM') / 1024:.0f} MB"
    )


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )  # fmt: skip
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def ms(values: list[float], q: float) -> str:
    return f"{statistics.quantiles(values, n=100)[int(q) - 1] * 1000:7.1f} ms"


async def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--chats", type=int, default=200)
    args.add_argument("--latency", type=float, default=3.0)
    args.add_argument("--samples", type=int, default=40)
    args.add_argument("--image", choices=("photo", "flat"), default="photo")
    args.add_argument(
        "--profile", metavar="FILE", help="record the bot with py-spy during 2 (collapsed stacks)"
    )
    args.add_argument("--crowd", type=int, default=2000, help="chats in the crowd (4)")
    args.add_argument("--crowd-cap", type=int, default=16, help="generation cap for the crowd")
    args.add_argument("--only", choices=("all", "classic", "crowd"), default="all")
    options = args.parse_args()
    # A bot stopped mid long-poll drops its connection; the fake need not print a traceback.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

    print(f"machine: {machine()}")
    images = {
        "1K": test_image(options.image, 1024, 1024),
        "4K": test_image(options.image, 4096, 4096),
    }
    for size, data in images.items():
        print(f"{size} image ({options.image}): {len(data) / 1e6:.3f} MB PNG")

    telegram, eden = FakeTelegram(TOKEN, keep_uploads=False), FakeEden()
    await telegram.start()
    await eden.start()
    timed = TimedEden(eden)
    if options.only in ("all", "classic"):
        await classic(telegram, timed, images, options)
    if options.only in ("all", "crowd"):
        await crowd_run(telegram, timed, options)
    await telegram.stop()
    await eden.stop()


async def crowd_run(telegram: FakeTelegram, timed: TimedEden, options: argparse.Namespace) -> None:
    # Flat images: the crowd is about queueing and Telegram traffic, not moving megabytes.
    image = test_image("flat", 1024, 1024)
    print(
        f"\n4. crowd: {options.crowd} chats at once, cap {options.crowd_cap}, upstream "
        f"{options.latency} s, flat 1K images, the bot's Telegram rate limiter on"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bot = await start_bot(telegram, timed.eden, Path(tmp), options.crowd_cap, rate_limit=True)
        assert bot._proc is not None
        await asyncio.sleep(1)
        await crowd(
            telegram, timed, image, options.crowd, options.crowd_cap, options.latency,
            bot._proc.pid,
        )  # fmt: skip
        await bot.stop()


async def classic(
    telegram: FakeTelegram, timed: TimedEden, images: dict[str, bytes], options: argparse.Namespace
) -> None:
    eden = timed.eden
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("a", "b"):
            (Path(tmp) / name).mkdir()
        bot = await start_bot(telegram, eden, Path(tmp) / "a", options.chats)
        print("\n1. overhead per request (update served -> image at Telegram, minus upstream)")
        for phase, (size, data) in enumerate(images.items()):
            values = await overhead(telegram, timed, data, options.samples, 10_000 * (phase + 1))
            print(f"   {size}: p50 {ms(values, 50)}   p95 {ms(values, 95)}   ({len(values)} runs)")
        await bot.stop()

        bot = await start_bot(telegram, eden, Path(tmp) / "b", options.chats)
        assert bot._proc is not None
        pid = bot._proc.pid
        # Let start-up finish (recovery, imports) before measuring.
        await asyncio.sleep(1)
        cpu_before, rss_idle = _proc(pid)
        harness_before = time.process_time()
        print(
            f"\n2. concurrency: {options.chats} chats at once, upstream takes {options.latency} s"
        )
        spy = None
        if options.profile:
            spy = await asyncio.create_subprocess_exec(
                "py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "250",
                "--output", options.profile, "--nonblocking",
            )  # fmt: skip
        wall = await concurrency(telegram, timed, images["1K"], options.chats, options.latency)
        if spy:
            spy.send_signal(2)
            await spy.wait()
        cpu_after, rss_peak = _proc(pid)
        harness_cpu = time.process_time() - harness_before
        await bot.stop()

    ratio = wall / options.latency
    print(f"   wall {wall:.2f} s, ratio to one latency {ratio:.2f} (1.00 is ideal)")
    print("\n3. resources during 2 (1K images)")
    print(f"   peak RSS {rss_peak / 1024:.0f} MB (idle after start {rss_idle / 1024:.0f} MB)")
    print(f"   CPU {(cpu_after - cpu_before) / options.chats * 1000:.1f} ms per request")
    print(f"   (the fake servers and this script used {harness_cpu:.1f} CPU s of the same 2 cores)")


if __name__ == "__main__":
    # The fakes share the 2 cores with the bot: the cheaper their event loop, the more the
    # figures are the bot's.
    uvloop.run(main())
