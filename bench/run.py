"""Benchmark: the real bot (`python -m bot`) against the fake Telegram and Eden servers on
loopback. Prints the bot's own overhead per request (1K and 4K images), how close N concurrent
chats come to one upstream latency, the bot's peak memory and CPU time per request, and how it
holds a crowd far larger than its generation cap (commands answered meanwhile, Telegram calls
per request, memory, time to drain).

    .venv/bin/python bench/run.py [--chats 200] [--latency 3] [--samples 40] [--image flat]
                                  [--only classic|crowd] [--crowd-chats 2000]
                                  [--crowd-cap 16 [--crowd-cap 64 ...]] [--replicas N]

`--only crowd` runs the crowd alone: at least 2000 x 3 s / 16 = 375 s by design; each
`--crowd-cap` is a run of its own (a fresh bot), and a table of the runs ends the output.
`--replicas N` runs N replicas in webhook mode on a PostgreSQL server the benchmark starts (as
tests do), the fake Telegram spreading its posts over them; CPU and memory are then the replicas'
sums. Without it: one process on SQLite, in polling mode.
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
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from aiohttp import web
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.balancer import PATH, SECRET, Balancer
from tests.fakes.eden import API_KEY, FakeEden
from tests.fakes.process import BotProcess
from tests.fakes.telegram import Call, FakeTelegram, text_message
from tests.postgres import PostgresServer

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


@dataclass
class Fleet:
    """The bot under measure: one process, or replicas sharing a PostgreSQL database."""

    processes: list[BotProcess]
    balancer: Balancer | None = None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def usage(self) -> tuple[float, int]:
        """(CPU seconds so far, sum of peak RSS in KiB) over the processes."""
        each = [_proc(pid) for pid in self.pids]
        return sum(cpu for cpu, _ in each), sum(rss for _, rss in each)

    def rss(self) -> int:
        return sum(_status(pid, "VmRSS") for pid in self.pids)

    async def stop(self, telegram: FakeTelegram) -> None:
        for process in self.processes:
            await process.stop()
        if self.balancer:
            telegram.deliver = None
            await self.balancer.aclose()


async def start_bots(
    telegram: FakeTelegram,
    eden: FakeEden,
    data: Path,
    chats: int,
    postgres: PostgresServer | None,
    replicas: int,
    rate_limit: bool = False,
    health_port: int = 0,
    health_ports: list[int] | None = None,
) -> Fleet:
    """`health_port`: /healthz and /metrics on the first process; `health_ports`: one each."""
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.url,
        "EDENAI_API_KEY": API_KEY,
        "EDENAI_BASE_URL": eden.base_url,
        "DATA_DIR": str(data),
        "LOG_LEVEL": "WARNING",
        "UPSTREAM_RETRIES": "0",
        # The fake has no flood limits; Telegram's own would cap any bot at ~30 messages/s.
        # The crowd keeps the bot's limiter on: keeping within it is what it measures.
        "TELEGRAM_RATE_LIMIT": "true" if rate_limit else "false",
        "MAX_CONCURRENT_GENERATIONS": str(chats),
        # Every chat is a stranger, and the samples would pass an open bot's daily limit.
        # USER_MAX_IN_FLIGHT keeps its default: each chat has one request.
        "ALLOW_EVERYONE": "true",
        "USER_DAILY_IMAGES": "0",
    }
    started, hooks = len(telegram.sent("setMyCommands")), len(telegram.sent("setWebhook"))
    if postgres is None:
        # The crowd reads the queue's length from /metrics; the others need no server.
        port = health_ports[0] if health_ports else health_port
        bot = BotProcess({**env, "HEALTH_PORT": str(port)}, cwd=data)
        await bot.start()
        await telegram.wait_for("setMyCommands", count=started + 1, timeout=30)
        return Fleet([bot])
    env["DATABASE_URL"] = postgres.create_database()
    env["REPLICAS"] = str(replicas)
    ports = [free_port() for _ in range(replicas)]
    processes = []
    for i, port in enumerate(ports):
        replica = BotProcess(
            {
                **env,
                "HEALTH_PORT": str(
                    health_ports[i] if health_ports else health_port if i == 0 else 0
                ),
                "WEBHOOK_URL": f"https://bot.example.test/{PATH}",
                "WEBHOOK_PORT": str(port),
                "WEBHOOK_SECRET": SECRET,
                "REPLICA_ID": f"bench-{i}",
            },
            cwd=data,
        )
        await replica.start()
        processes.append(replica)
    await telegram.wait_for("setWebhook", count=hooks + replicas, timeout=30)
    for port in ports:
        await listening(port)
    balancer = Balancer(ports)
    telegram.deliver = balancer
    return Fleet(processes, balancer)


async def listening(port: int) -> None:
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise TimeoutError(f"no webhook server on port {port}")


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


# ---- 4. the crowd ------------------------------------------------------------------------------
CROWD_FIRST_CHAT = 200_000  # the first run's chats are 200000, 200001, ...
CROWD_RUNS_APART = 100_000  # the next run's 300000, ...
PROBE_FIRST_CHAT = 9_000_000  # /help comes from users outside the crowd, a fresh one each time
HELP_PROBES = 20
HELP_EVERY = 2.0  # seconds between /help probes, on a fixed schedule
# The targets (issues 9 and 23).
HELP_TARGET = 0.5  # s, p95
NOTE_TARGET = 10.0  # s a note may outlive its picture, p95
CALLS_TARGET = 3.0  # Telegram calls per request, on average
SECOND_TARGET = 30  # Telegram calls in the busiest second of the clock
RSS_TARGET = 300  # MB, peak
DRAIN_TARGET = 1.1  # drain time over size x latency / cap


def quantiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95 and the max; inclusive, since with ~20 samples the default method puts p95
    beyond the slowest one."""
    if len(values) < 2:
        return (values[0],) * 3 if values else (float("nan"),) * 3
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], max(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def poll_until(condition: Callable[[], bool], within: float) -> bool:
    """Whether `condition()` came to hold within `within` seconds. Polled, not checked on every
    call the bot makes: over thousands of calls that is quadratic, CPU taken from the bot. The
    figures come from the calls' own time stamps, so polling costs them no precision."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.5)
    return True


def is_note(call: Call) -> bool:
    """A queue note: a sendMessage with the Cancel button ("Queued: N ahead of you.")."""
    markup = call.params.get("reply_markup")
    buttons = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    return call.method == "sendMessage" and any(
        str(button.get("callback_data", "")).startswith("cancel|")
        for row in buttons
        for button in row
    )


@dataclass
class Crowd:
    """The crowd's prompts, and the bot's calls since they were sent, read incrementally."""

    telegram: FakeTelegram
    prompts: dict[int, int]  # chat -> message id of its prompt
    sent_at: float  # loop time just before the first prompt was sent
    first_call: int  # index in telegram.calls of the first call after that
    photos: list[Call] = field(default_factory=list)
    notes: list[Call] = field(default_factory=list)
    deleted: dict[tuple[int, int], float] = field(default_factory=dict)  # (chat, message) -> at
    _read: int = 0

    @classmethod
    async def send(cls, telegram: FakeTelegram, size: int, first_chat: int) -> Crowd:
        first_call, sent_at = len(telegram.calls), asyncio.get_running_loop().time()
        prompts = {}
        for chat in range(first_chat, first_chat + size):
            message = await telegram.send(text_message(chat, f"crowd {chat}"))
            prompts[chat] = message["message_id"]
        return cls(telegram, prompts, sent_at, first_call, _read=first_call)

    def calls(self) -> list[Call]:
        """Every call the bot made since the crowd was sent, but for the /help probes and their
        answers (getUpdates is not recorded)."""
        return [
            c for c in self.telegram.calls[self.first_call :]
            if (c.chat_id or 0) < PROBE_FIRST_CHAT
        ]  # fmt: skip

    def catch_up(self) -> None:
        calls = self.telegram.calls
        for call in calls[self._read :]:
            if call.chat_id in self.prompts:
                if call.method in ("sendPhoto", "sendDocument"):
                    self.photos.append(call)
                elif is_note(call):
                    self.notes.append(call)
                elif call.method == "deleteMessage":
                    self.deleted[(call.chat_id, int(call.params["message_id"]))] = call.at
        self._read = len(calls)

    def delivered(self) -> int:
        self.catch_up()
        return len(self.photos)

    def notes_left(self) -> int:
        """Notes sent and not deleted (yet)."""
        return sum(1 for at in self.note_deleted_at().values() if at is None)

    def note_deleted_at(self) -> dict[int, float | None]:
        """Chat -> when its note was deleted (None: not yet), for the chats that got one."""
        self.catch_up()
        return {
            chat: self.deleted.get((chat, note.result["message_id"]))
            for note in self.notes
            if note.result is not None and (chat := note.chat_id) is not None
        }


@dataclass
class Probe:
    """One /help sent while the crowd waits, and the bot as it was when it was sent."""

    seconds: float | None  # update handed out -> the reply arrived; None: no reply
    queued: int  # jobs waiting for a slot (the bot's bot_queue_length)
    rss: int  # the bot's VmRSS, KiB


async def metric(session: aiohttp.ClientSession, url: str, name: str) -> int:
    """One gauge from the bot's /metrics."""
    async with session.get(url) as response:
        text = await response.text()
    return next(
        int(float(line.split()[1])) for line in text.splitlines() if line.startswith(name + " ")
    )


async def round_trips(ports: list[int]) -> int:
    """The statements the bots have sent their database so far, all replicas together."""
    async with aiohttp.ClientSession() as session:
        return sum(
            [
                await metric(
                    session, f"http://127.0.0.1:{port}/metrics", "bot_database_round_trips_total"
                )
                for port in ports
            ]
        )


async def probe_help(
    telegram: FakeTelegram, crowd: Crowd, fleet: Fleet, metrics_url: str, first_chat: int
) -> list[Probe]:
    """/help from a new user every HELP_EVERY seconds while jobs still wait, up to HELP_PROBES;
    each is timed from the fake handing the update out to the bot's reply arriving."""

    async def timed_reply(asked: dict[str, Any]) -> float | None:
        try:
            answer = await telegram.reply_to(asked, timeout=60)
        except TimeoutError:
            return None
        return answer.at - telegram.served_at[asked["message_id"]]

    loop = asyncio.get_running_loop()
    asked: list[tuple[int, int, asyncio.Task[float | None]]] = []
    async with aiohttp.ClientSession() as session:
        for probe in range(HELP_PROBES):
            await asyncio.sleep(max(0.0, crowd.sent_at + HELP_EVERY * (probe + 1) - loop.time()))
            queued = await metric(session, metrics_url, "bot_queue_length")
            if queued == 0 and probe > 0:
                break  # no longer "while they are queued"
            message = await telegram.send(text_message(first_chat + probe, "/help"))
            asked.append((queued, fleet.rss(), asyncio.create_task(timed_reply(message))))
    return [Probe(await task, queued, rss) for queued, rss, task in asked]


def busiest_second(calls: list[Call]) -> tuple[int, int]:
    """The most calls in one whole second of the clock, and in any 1-second window."""
    times = sorted(c.at for c in calls)
    buckets = Counter(int(at) for at in times)
    window, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        window = max(window, end - start + 1)
    return max(buckets.values(), default=0), window


def check_photos(crowd: Crowd) -> list[str]:
    """Every chat got exactly one picture, as a reply to its prompt."""
    got = Counter((c.chat_id, c.reply_to) for c in crowd.photos)
    expected = set(crowd.prompts.items())
    missing = len(expected - got.keys())
    twice = sum(1 for n in got.values() if n > 1)
    stray = len(got.keys() - expected)
    if missing or twice or stray:
        return [
            f"{len(crowd.photos)} pictures for {len(expected)} prompts: {missing} prompts got "
            f"none in reply, {twice} got more than one, {stray} went elsewhere (not as a reply "
            "to the chat's prompt)"
        ]
    return []


def print_notes(crowd: Crowd, figures: dict[str, str]) -> None:
    """How long queue notes stayed up after their pictures (deletions go before new notes)."""
    picture_at = {c.chat_id: c.at for c in crowd.photos}
    late = [
        at - picture_at[chat]
        for chat, at in crowd.note_deleted_at().items()
        if at is not None and chat in picture_at
    ]
    if not late:
        print(f"   queue notes: {len(crowd.notes)} sent, none deleted after a picture")
        figures["notes outlive their picture, p50 / p95 / max"] = f"({len(crowd.notes)} notes)"
        return
    p50, p95, most = quantiles(late)
    print(f"   queue notes: {len(crowd.notes)} sent; deleted after their picture by p50 "
          f"{p50:.1f} s, p95 {p95:.1f} s, max {most:.1f} s   target p95 < {NOTE_TARGET:g} s: "
          f"{verdict(p95 < NOTE_TARGET)}")  # fmt: skip
    figures["notes outlive their picture, p50 / p95 / max"] = (
        f"{p50:.1f} / {p95:.1f} / {most:.1f} s ({len(crowd.notes)} notes)"
    )


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_help(probes: list[Probe], figures: dict[str, str]) -> list[str]:
    seconds = [p.seconds for p in probes if p.seconds is not None]
    if len(seconds) >= 2:
        p50, p95, most = quantiles(seconds)
        met = p95 < HELP_TARGET
        print(f"   /help while queued: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
              f"max {most * 1000:.0f} ms ({len(seconds)} asked, with "
              f"{probes[-1].queued}-{max(p.queued for p in probes)} jobs waiting)   "
              f"target p95 < {HELP_TARGET:g} s: {verdict(met)}")  # fmt: skip
        each = " ".join("-" if p.seconds is None else f"{p.seconds * 1000:.0f}" for p in probes)
        print(f"      each, every {HELP_EVERY:g} s from the first prompt (ms): {each}")
        figures["`/help` while queued, p50 / p95 / max"] = (
            f"{p50 * 1000:.0f} / {p95 * 1000:.0f} / {most * 1000:.0f} ms"
        )
    else:
        print(f"   /help while queued: too few asked ({len(seconds)}) for quantiles")
    unanswered = len(probes) - len(seconds)
    return [f"{unanswered} /help not answered within 60 s"] if unanswered else []


def print_calls(crowd: Crowd, size: int, figures: dict[str, str]) -> None:
    calls = crowd.calls()
    kinds = Counter(
        "sendMessage (notes)" if is_note(c) else f"{c.method} (other)" if c.method == "sendMessage"
        else c.method for c in calls
    )  # fmt: skip
    per_request = len(calls) / size
    print(f"   Telegram calls per request {per_request:.2f} ({len(calls)} calls)   "
          f"target <= {CALLS_TARGET:.0f}: {verdict(per_request <= CALLS_TARGET)}")  # fmt: skip
    print("      " + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()))
    # Telegram's flood limit counts every call, the /help replies too.
    every = crowd.telegram.calls[crowd.first_call :]
    clock_second, window = busiest_second(every)
    met = clock_second <= SECOND_TARGET
    print(f"   busiest second: {clock_second} calls (any 1-s window: {window}), /help replies "
          f"included   target <= {SECOND_TARGET}: {verdict(met)}")  # fmt: skip
    figures["Telegram calls per request"] = f"{per_request:.2f}"
    figures["busiest second (any 1-s window)"] = f"{clock_second} ({window})"


async def crowd(
    telegram: FakeTelegram, timed: TimedEden, image: bytes, options: argparse.Namespace,
    fleet: Fleet, metrics_url: str, cap: int, run: int, figures: dict[str, str],
) -> list[str]:  # fmt: skip
    """`--crowd-chats` chats send one prompt each at once, at a cap of `cap`; meanwhile other
    users send /help. Prints the figures, and puts them in `figures`; returns what went wrong
    (empty if nothing)."""
    size, latency = options.crowd, options.latency
    ideal = size * latency / cap
    timed.serve(image, latency=latency, count=size)
    timed.eden.peak = 0
    cpu_before, _ = fleet.usage()
    harness_before = time.process_time()
    rss_idle = fleet.rss()
    sent = await Crowd.send(telegram, size, CROWD_FIRST_CHAT + run * CROWD_RUNS_APART)
    probes = await probe_help(
        telegram, sent, fleet, metrics_url, PROBE_FIRST_CHAT + run * HELP_PROBES
    )
    problems = []
    if not await poll_until(lambda: sent.delivered() >= size, within=ideal * 3 + 120):
        problems.append(
            f"only {sent.delivered()} of {size} pictures within {ideal * 3 + 120:.0f} s"
        )
    drained_at = max((c.at for c in sent.photos), default=float("nan"))
    # Notes are deleted after their pictures: wait, to count them.
    if not await poll_until(lambda: sent.notes_left() == 0, within=120 + len(sent.notes) / 8):
        problems.append(f"{sent.notes_left()} of {len(sent.notes)} queue notes never deleted")
    problems += check_photos(sent)
    cpu_after, rss_peak = fleet.usage()
    harness_cpu = time.process_time() - harness_before

    problems += print_help(probes, figures)
    print_calls(sent, size, figures)
    print_notes(sent, figures)
    drain = drained_at - sent.sent_at
    ratio = drain / ideal
    print(f"   upstream calls at once, at most: {timed.eden.peak} (the cap: {cap})")
    if timed.eden.peak > cap:
        problems.append(f"{timed.eden.peak} upstream calls at once, over the cap of {cap}")
    print(f"   drain {drain:.1f} s over ideal {ideal:.1f} s ({size} x {latency:g} s / {cap}) = "
          f"{ratio:.3f}   target < {DRAIN_TARGET}: {verdict(ratio < DRAIN_TARGET)}")  # fmt: skip
    figures[f"drain ÷ ideal ({size} x {latency:g} s / cap)"] = f"{ratio:.3f}"
    queued = max(probes, key=lambda p: p.queued, default=Probe(None, 0, 0))
    print(f"   RSS idle {rss_idle / 1024:.0f} MB; {queued.rss / 1024:.0f} MB with {queued.queued} "
          f"jobs queued; peak (VmHWM) {rss_peak / 1024:.0f} MB   target < {RSS_TARGET} MB: "
          f"{verdict(rss_peak / 1024 < RSS_TARGET)}")  # fmt: skip
    print(f"   CPU: the bot {cpu_after - cpu_before:.1f} s "
          f"({(cpu_after - cpu_before) / size * 1000:.1f} ms per request), the fakes and this "
          f"script {harness_cpu:.1f} s, of the same cores")  # fmt: skip
    figures["RSS idle / queued / peak"] = (
        f"{rss_idle / 1024:.0f} / {queued.rss / 1024:.0f} / {rss_peak / 1024:.0f} MB"
    )
    figures["CPU per request"] = f"{(cpu_after - cpu_before) / size * 1000:.1f} ms"
    if not problems:
        print(f"   every chat got exactly one picture, as a reply to its prompt; "
              f"all {len(sent.notes)} queue notes deleted")  # fmt: skip
    figures["every chat exactly one picture"] = "yes" if not problems else "NO"
    return problems


async def crowd_runs(
    telegram: FakeTelegram,
    timed: TimedEden,
    options: argparse.Namespace,
    postgres: PostgresServer | None,
) -> bool:
    """Scenario 4 at each `--crowd-cap`, then their figures side by side; False if one failed."""
    runs: dict[int, dict[str, str]] = {}
    ok = True
    for run, cap in enumerate(options.crowd_cap or [16]):
        runs[cap] = {}
        ok = await crowd_run(telegram, timed, options, postgres, cap, run, runs[cap]) and ok
    caps = list(runs)
    print(f"\nthe crowd: {options.crowd} chats, {options.latency:g} s upstream" + where(options))
    print("\n| | " + " | ".join(f"cap {cap}" for cap in caps) + " |")
    print("|---|" + "---|" * len(caps))
    for row in dict.fromkeys(key for figures in runs.values() for key in figures):
        print(f"| {row} | " + " | ".join(runs[cap].get(row, "") for cap in caps) + " |")
    return ok


async def crowd_run(
    telegram: FakeTelegram,
    timed: TimedEden,
    options: argparse.Namespace,
    postgres: PostgresServer | None,
    cap: int,
    run: int,
    figures: dict[str, str],
) -> bool:
    """Scenario 4 in a bot of its own, with the Telegram rate limiter on; False if it failed."""
    image = test_image(options.crowd_image, 1024, 1024)
    print(
        f"\n4. crowd: {options.crowd} chats at once, cap {cap}, upstream "
        f"{options.latency:g} s; {options.crowd_image} 1K images ({len(image) / 1e3:.0f} KB"
        + (
            ": Telegram traffic and queueing are measured here, not megabytes)"
            if options.crowd_image == "flat"
            else ")"
        )
        + "; TELEGRAM_RATE_LIMIT=true"
        + where(options)
    )
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        fleet = await start_bots(
            telegram,
            timed.eden,
            Path(tmp),
            cap,
            postgres,
            options.replicas,
            rate_limit=True,
            health_port=port,
        )
        await asyncio.sleep(1)  # start-up's own work done before idle memory is read
        problems = await crowd(
            telegram, timed, image, options, fleet, f"http://127.0.0.1:{port}/metrics", cap, run,
            figures,
        )  # fmt: skip
        await fleet.stop(telegram)
    for problem in problems:
        print(f"   !!! FAILED: {problem}")
    return not problems


def where(options: argparse.Namespace) -> str:
    if options.replicas:
        return f"; {options.replicas} replica(s) on PostgreSQL, webhook"
    return "; one process on SQLite, polling"


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )  # fmt: skip
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def ms(values: list[float], q: float) -> str:
    return f"{statistics.quantiles(values, n=100)[int(q) - 1] * 1000:7.1f} ms"


def parse_options() -> argparse.Namespace:
    args = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    args.add_argument("--chats", type=int, default=200, help="chats at once in 2")
    args.add_argument("--latency", type=float, default=3.0, help="the fake upstream's seconds")
    args.add_argument("--samples", type=int, default=40, help="sequential requests in 1")
    args.add_argument("--image", choices=("photo", "flat"), default="photo", help="for 1-3")
    args.add_argument(
        "--profile", metavar="FILE", help="record the bot with py-spy during 2 (collapsed stacks)"
    )
    args.add_argument(
        "--crowd-chats", "--crowd", dest="crowd", type=int, default=2000, help="chats in 4"
    )
    args.add_argument(
        "--crowd-cap",
        type=int,
        action="append",
        help="generation cap for the crowd (16); repeated: one run at each",
    )
    args.add_argument(
        "--crowd-image", choices=("photo", "flat"), default="flat", help="the crowd's pictures"
    )
    args.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="N replicas on PostgreSQL in webhook mode (2 and 4); 0: one process on SQLite",
    )
    args.add_argument(
        "--only",
        choices=("all", "classic", "crowd"),
        default="all",
        help="classic: 1-3 (about a minute); crowd: 4 alone (2000 x 3 s / 16 = 375 s at least)",
    )
    return args.parse_args()


async def main() -> int:
    options = parse_options()
    # A bot stopped mid long-poll drops its connection; the fake need not print a traceback.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    print(f"machine: {machine()}")
    telegram, eden = FakeTelegram(TOKEN, keep_uploads=False), FakeEden()
    await telegram.start()
    await eden.start()
    timed = TimedEden(eden)
    postgres = PostgresServer.start() if options.replicas else None
    ok = True
    try:
        if options.only in ("all", "classic"):
            await classic(telegram, timed, options, postgres)
        if options.only in ("all", "crowd"):
            ok = await crowd_runs(telegram, timed, options, postgres)
    finally:
        if postgres:
            postgres.stop()
    await telegram.stop()
    await eden.stop()
    return 0 if ok else 1


async def classic(
    telegram: FakeTelegram,
    timed: TimedEden,
    options: argparse.Namespace,
    postgres: PostgresServer | None,
) -> None:
    """Scenarios 1-3, with the Telegram rate limiter off."""
    images = {
        "1K": test_image(options.image, 1024, 1024),
        "4K": test_image(options.image, 4096, 4096),
    }
    for size, data in images.items():
        print(f"{size} image ({options.image}): {len(data) / 1e6:.3f} MB PNG")
    eden = timed.eden
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("a", "b"):
            (Path(tmp) / name).mkdir()
        fleet = await start_bots(
            telegram, eden, Path(tmp) / "a", options.chats, postgres, options.replicas
        )
        print("\n1. overhead per request (update served -> image at Telegram, minus upstream)")
        for phase, (size, data) in enumerate(images.items()):
            values = await overhead(telegram, timed, data, options.samples, 10_000 * (phase + 1))
            print(f"   {size}: p50 {ms(values, 50)}   p95 {ms(values, 95)}   ({len(values)} runs)")
        await fleet.stop(telegram)

        ports = [free_port() for _ in range(options.replicas if postgres else 1)]
        fleet = await start_bots(
            telegram,
            eden,
            Path(tmp) / "b",
            options.chats,
            postgres,
            options.replicas,
            health_ports=ports,
        )
        # Let start-up finish (recovery, imports) before measuring.
        await asyncio.sleep(1)
        trips_before = await round_trips(ports)
        cpu_before, rss_idle = fleet.usage()
        harness_before = time.process_time()
        print(
            f"\n2. concurrency: {options.chats} chats at once, upstream takes {options.latency} s"
            + where(options)
        )
        spy = None
        if options.profile:
            spy = await asyncio.create_subprocess_exec(
                "py-spy", "record", "--pid", str(fleet.pids[0]), "--format", "raw", "--rate", "250",
                "--output", options.profile, "--nonblocking",
            )  # fmt: skip
        wall = await concurrency(telegram, timed, images["1K"], options.chats, options.latency)
        if spy:
            spy.send_signal(2)
            await spy.wait()
        cpu_after, rss_peak = fleet.usage()
        harness_cpu = time.process_time() - harness_before
        trips = await round_trips(ports) - trips_before
        await fleet.stop(telegram)

    ratio = wall / options.latency
    print(f"   wall {wall:.2f} s, ratio to one latency {ratio:.2f} (1.00 is ideal)")
    print("\n3. resources during 2 (1K images)")
    print(f"   peak RSS {rss_peak / 1024:.0f} MB (idle after start {rss_idle / 1024:.0f} MB)")
    print(f"   CPU {(cpu_after - cpu_before) / options.chats * 1000:.1f} ms per request")
    print(f"   database round trips {trips / options.chats:.1f} per request")
    print(f"   (the fake servers and this script used {harness_cpu:.1f} CPU s of the same 2 cores)")


if __name__ == "__main__":
    # The fakes share the 2 cores with the bot: the cheaper their event loop, the more the
    # figures are the bot's.
    sys.exit(uvloop.run(main()))
