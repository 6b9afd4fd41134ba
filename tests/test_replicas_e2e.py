"""Three `python -m bot` replicas in webhook mode on one PostgreSQL database, with the fake
Telegram spreading its posts over them: each update is answered once, jobs survive a replica
killed mid-burst, quotas and the generation cap hold across replicas, an album split over
replicas is one request, /cancel and settings reach the other replicas, a conversation's turns
reach different replicas."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from tests.conftest import StartBot, free_port
from tests.fakes.balancer import PATH, SECRET, Balancer
from tests.fakes.database import rows
from tests.fakes.eden import FakeEden
from tests.fakes.images import jpeg
from tests.fakes.process import BotProcess
from tests.fakes.telegram import FakeTelegram, photo_message, text_message
from tests.test_conversation_e2e import BLUE, GREEN, RED, recorded, turns_sent

pytestmark = pytest.mark.postgresql_only

REPLICAS = 3


class Replicas:
    def __init__(self, processes: list[BotProcess], balancer: Balancer) -> None:
        self.processes = processes
        self.balancer = balancer


@pytest.fixture
async def start_replicas(start_bot: StartBot, telegram: FakeTelegram) -> AsyncIterator[Any]:
    balancers: list[Balancer] = []

    async def start(replicas: int = REPLICAS, **settings: str) -> Replicas:
        ports = [free_port() for _ in range(replicas)]
        processes = [
            await start_bot(
                WEBHOOK_URL=f"https://bot.example.test/{PATH}",
                WEBHOOK_PORT=str(port),
                WEBHOOK_SECRET=SECRET,
                REPLICA_ID=f"replica-{i}",
                **settings,
            )
            for i, port in enumerate(ports)
        ]
        await telegram.wait_for("setWebhook", count=replicas)
        for port in ports:
            await _listening(port)
        balancer = Balancer(ports)
        balancers.append(balancer)
        telegram.deliver = balancer
        return Replicas(processes, balancer)

    yield start
    for balancer in balancers:
        await balancer.aclose()


async def _listening(port: int, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            await asyncio.sleep(0.05)


def _photos_per_chat(telegram: FakeTelegram) -> Counter[int]:
    return Counter(int(c.params["chat_id"]) for c in telegram.sent("sendPhoto"))


async def test_a_burst_is_answered_once_each_and_the_cap_holds_across_replicas(
    start_replicas: Any, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    for _ in range(30):
        eden.then_hang(0.6)
    # Leases renewed every second: sweeps run during the burst, and must leave running jobs be.
    replicas: Replicas = await start_replicas(MAX_CONCURRENT_GENERATIONS="4", JOB_LEASE_SECONDS="3")
    chats = range(5001, 5031)
    messages = await asyncio.gather(*(telegram.send(text_message(c, f"fox {c}")) for c in chats))
    await telegram.wait_for("sendPhoto", count=len(chats), timeout=60)
    assert _photos_per_chat(telegram) == Counter(chats)
    # Every replica took a share of the posts, and of the jobs.
    assert {port for _, port in replicas.balancer.posted} == set(replicas.balancer.ports)
    workers = Counter(r[0] for r in rows(tmp_path, "SELECT worker FROM requests"))
    assert workers == Counter({None: len(chats)})  # all closed
    assert eden.peak <= 4
    # Telegram sends an update again (no answer in time): every replica drops it.
    first = messages[0]
    [update] = [
        u for u in replicas.balancer.delivered if u["message"]["message_id"] == first["message_id"]
    ]
    for port in replicas.balancer.ports:
        assert await replicas.balancer.post(port, update)
    await asyncio.sleep(1.5)
    assert len(eden.calls) == len(chats)
    assert _photos_per_chat(telegram)[first["chat"]["id"]] == 1
    assert [o for (o,) in rows(tmp_path, "SELECT outcome FROM requests")] == ["ok"] * len(chats)


async def test_a_replica_killed_mid_burst_leaves_every_request_answered_once(
    start_replicas: Any, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    eden.delay = 1.5
    replicas: Replicas = await start_replicas(MAX_CONCURRENT_GENERATIONS="6", JOB_LEASE_SECONDS="3")
    chats = list(range(6001, 6019))
    await asyncio.gather(*(telegram.send(text_message(c, f"hare {c}")) for c in chats))
    # Every request is written down as a job, and some run in each replica.
    for _ in range(200):
        if len(rows(tmp_path, "SELECT id FROM requests")) == len(chats):
            break
        await asyncio.sleep(0.1)
    await eden.wait_for_calls(6)
    victim = replicas.processes[0]
    await victim.stop(signal.SIGKILL)

    def answers() -> Counter[int]:
        """A picture or "interrupted" per chat (queue notes are not answers)."""
        return Counter(
            int(c.params["chat_id"])
            for c in telegram.calls
            if c.method == "sendPhoto"
            or (c.method == "sendMessage" and c.params.get("text") == texts.INTERRUPTED())
        )

    await telegram.wait_until(lambda: set(answers()) == set(chats), timeout=60)
    await asyncio.sleep(1.0)  # a second answer, were there one, would be here by now
    per_chat = answers()
    assert per_chat == Counter(chats)  # one answer each: a picture, or "interrupted"
    prompts = Counter(_prompt(call.body) for call in eden.calls)
    assert max(prompts.values()) == 1  # never sent upstream twice: never charged twice
    outcomes = Counter(o for (o,) in rows(tmp_path, "SELECT outcome FROM requests"))
    assert set(outcomes) <= {"ok", "interrupted"}
    assert sum(outcomes.values()) == len(chats)


def _prompt(body: Any) -> str:
    if "prompt" in body:
        return str(body["prompt"])
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return str(next(part["text"] for part in content if part.get("type") == "text"))


async def test_quotas_are_exact_when_one_users_requests_reach_every_replica(
    start_replicas: Any, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_replicas(USER_DAILY_IMAGES="3", USER_MAX_IN_FLIGHT="10")
    user = 7001
    await asyncio.gather(*(telegram.send(text_message(user, f"owl {i}")) for i in range(9)))

    def answers() -> list[str]:
        return [c.method for c in telegram.calls if c.method in ("sendPhoto", "sendMessage")]

    await telegram.wait_until(lambda: len(answers()) >= 9, timeout=60)
    await asyncio.sleep(1.0)
    assert Counter(answers()) == Counter({"sendPhoto": 3, "sendMessage": 6})
    assert len(eden.calls) == 3


async def test_an_album_split_over_replicas_is_one_request(
    start_replicas: Any, telegram: FakeTelegram, eden: FakeEden
) -> None:
    replicas: Replicas = await start_replicas()
    chat = 8001
    photos = [jpeg(100 + i, 100, (i * 40, 0, 0)) for i in range(3)]
    messages = [
        photo_message(
            chat,
            [(telegram.add_file(data), 100 + i, 100, len(data))],
            caption="a collage" if i == 1 else None,
            media_group_id="album-x",
            message_id=900 + i,
            date=1_700_000_000,
        )
        for i, data in enumerate(photos)
    ]
    for i, (message, port) in enumerate(zip(messages, replicas.balancer.ports, strict=True)):
        assert await replicas.balancer.post(port, {"update_id": 100 + i, "message": message})
        await asyncio.sleep(0.2)
    [reply] = await telegram.wait_for("sendPhoto", chat)
    assert reply.reply_to == 901
    await asyncio.sleep(2.0)  # a second request, were there one, would be here by now
    [call] = eden.calls
    assert len(telegram.sent("sendPhoto", chat)) == 1
    assert _prompt(call.body) == "a collage"


async def test_cancel_and_settings_reach_the_other_replicas(
    start_replicas: Any, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    replicas: Replicas = await start_replicas()
    balancer = replicas.balancer
    chat = 9001
    # A ratio set through one replica is used by the others at once.
    for i, port in enumerate(balancer.ports):
        ratio = ("16:9", "9:16", "4:3")[i]
        await balancer.post(
            port, {"update_id": 10 * i + 1, "message": _msg(chat, f"/ratio {ratio}", 10 * i + 1)}
        )
        await telegram.wait_for("sendMessage", chat, count=i + 1)
        other = balancer.ports[(i + 1) % REPLICAS]
        await balancer.post(
            other, {"update_id": 10 * i + 2, "message": _msg(chat, f"cat {i}", 10 * i + 2)}
        )
        await telegram.wait_for("sendPhoto", chat, count=i + 1)
        assert eden.calls[-1].body.get("aspect_ratio", ratio) == ratio
        assert ratio in str(eden.calls[-1].body)

    # A job running in one replica is cancelled by /cancel sent to another.
    eden.then_hang(30)
    await balancer.post(
        balancer.ports[0], {"update_id": 50, "message": _msg(chat, "a slow one", 50)}
    )
    await eden.wait_for_calls(4)
    [(worker,)] = rows(tmp_path, "SELECT worker FROM requests WHERE outcome = 'running'")
    running_on = int(str(worker).rsplit("-", 1)[1])
    elsewhere = balancer.ports[(running_on + 1) % REPLICAS]
    await balancer.post(elsewhere, {"update_id": 51, "message": _msg(chat, "/cancel", 51)})
    await telegram.wait_until(
        lambda: (
            [o for (o,) in rows(tmp_path, "SELECT outcome FROM requests ORDER BY id")][-1]
            == "cancelled"
        ),
        timeout=15,
    )
    await telegram.wait_until(
        lambda: (
            texts.CANCELLED_PAID() in [c.params.get("text") for c in telegram.sent(chat_id=chat)]
        )
    )
    assert len(telegram.sent("sendPhoto", chat)) == 3


def _msg(chat_id: int, text: str, message_id: int) -> dict[str, Any]:
    return {**text_message(chat_id, text), "message_id": message_id, "date": 1_700_000_000}


async def test_a_second_polling_replica_is_refused_at_start(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    first = await start_bot()
    await telegram.wait_for("setMyCommands")
    second = await start_bot(REPLICA_ID="second")
    assert await second.wait(timeout=30) == 1
    assert "another replica already polls Telegram" in second.output
    assert "Traceback" not in second.output
    assert first.running


# ---- a worker paused past its lease ------------------------------------------------------------
PAUSE_SECONDS = 8.0
TAKEN_OVER = "was taken over by another replica"


async def _buyer(start_replicas: Any, telegram: FakeTelegram, user: int) -> Replicas:
    """Two replicas with 3-second leases, and a user whose free image of the day is used and
    who bought two credits: the next picture is paid with a credit."""
    replicas: Replicas = await start_replicas(
        2, JOB_LEASE_SECONDS="3", USER_DAILY_IMAGES="1", STARS_PACKS="2:50"
    )
    assert (await telegram.answer(text_message(user, "free one"))).method == "sendPhoto"
    paid = await telegram.paid(user, "pack:2:50", 50, f"charge-{user}")
    assert "you now have 2" in (await telegram.reply_to(paid)).params["text"]
    return replicas


def _worker_of(replicas: Replicas, tmp_path: Path, message_id: int) -> BotProcess:
    [(worker,)] = rows(
        tmp_path,
        "SELECT worker FROM requests WHERE message_id = ? AND outcome = 'running'",
        message_id,
    )
    return replicas.processes[int(str(worker).rsplit("-", 1)[1])]


async def _pause_until(
    process: BotProcess, telegram: FakeTelegram, taken_over: Any, seconds: float
) -> None:
    """SIGSTOP `process` until the other replica has dealt with its job and `seconds` have
    passed, then SIGCONT it and give it time to do what it would do with the job."""
    loop = asyncio.get_running_loop()
    paused_at = loop.time()
    process.send_signal(signal.SIGSTOP)
    try:
        await telegram.wait_until(taken_over, timeout=30)
        await asyncio.sleep(max(0.0, paused_at + seconds - loop.time()))
    finally:
        process.send_signal(signal.SIGCONT)
    with contextlib.suppress(TimeoutError):
        await process.wait_for_output(TAKEN_OVER, timeout=10)
    await asyncio.sleep(1.0)  # a second answer, were there one, would be here by now


def _ledger(tmp_path: Path, message_id: int, user: int) -> tuple[tuple[Any, ...], int]:
    [line] = rows(
        tmp_path, "SELECT outcome, funding FROM requests WHERE message_id = ?", message_id
    )
    [(balance,)] = rows(tmp_path, "SELECT balance FROM credits WHERE user_id = ?", user)
    return line, int(balance)


async def test_a_paused_worker_whose_job_was_taken_over_neither_answers_nor_charges(
    start_replicas: Any, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    """The replica running a credit-paid job is paused (SIGSTOP) past its lease while the
    upstream works; the other one answers "interrupted" and gives the credit back. Resumed,
    the paused one finds the job no longer its own: no picture, no second answer, no charge."""
    user = 9501
    replicas = await _buyer(start_replicas, telegram, user)
    eden.then_hang(6)
    message = await telegram.send(text_message(user, "a paid owl"))
    await eden.wait_for_calls(2)
    paused = _worker_of(replicas, tmp_path, message["message_id"])

    def interrupted() -> list[Any]:
        return [
            c
            for c in telegram.sent("sendMessage", user)
            if c.params.get("text") == texts.INTERRUPTED()
        ]

    await _pause_until(paused, telegram, lambda: bool(interrupted()), PAUSE_SECONDS)
    assert len(telegram.sent("sendPhoto", user)) == 1  # the free one only
    assert len(interrupted()) == 1
    assert [c.reply_to for c in interrupted()] == [message["message_id"]]
    assert _ledger(tmp_path, message["message_id"], user) == (("interrupted", "credit"), 2)
    assert TAKEN_OVER in paused.output


async def test_a_paused_worker_does_not_call_upstream_for_a_job_run_again_elsewhere(
    start_replicas: Any, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    """With an input image, the upstream call is made only after the download: a replica
    paused while downloading has its job queued again and run by the other. Resumed (its
    download done, or timed out meanwhile), it must neither call the upstream a second time (a
    second bill) nor answer: no second picture, no "couldn't download", no second closing."""
    user = 9502
    replicas = await _buyer(start_replicas, telegram, user)
    telegram.file_delay = 2.0
    data = jpeg(120, 90)
    message = await telegram.send(
        photo_message(user, [(telegram.add_file(data), 120, 90, len(data))], caption="a paid edit")
    )
    await telegram.wait_until(lambda: len(telegram.downloads) == 1)
    paused = _worker_of(replicas, tmp_path, message["message_id"])
    await _pause_until(
        paused, telegram, lambda: len(telegram.sent("sendPhoto", user)) == 2, PAUSE_SECONDS
    )
    assert [_prompt(call.body) for call in eden.calls] == ["free one", "a paid edit"]
    assert len(telegram.sent("sendPhoto", user)) == 2
    assert not [
        c for c in telegram.sent("sendMessage", user) if c.reply_to == message["message_id"]
    ]
    assert _ledger(tmp_path, message["message_id"], user) == (("ok", "credit"), 1)
    assert TAKEN_OVER in paused.output


async def test_a_conversation_goes_on_whichever_replica_each_turn_reaches(
    start_replicas: Any, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    replicas: Replicas = await start_replicas()
    balancer = replicas.balancer
    chat = 9101
    results: list[dict[str, Any]] = []
    for turn, (port, prompt) in enumerate(
        zip(balancer.ports, ("a kite", "make it red", "add a second kite"), strict=True)
    ):
        message = _msg(chat, prompt, 100 + turn)
        if results:
            message["reply_to_message"] = results[-1]
        eden.image = (RED, BLUE, GREEN)[turn]
        await balancer.post(port, {"update_id": 100 + turn, "message": message})
        [*_, sent] = await telegram.wait_for("sendPhoto", chat, count=turn + 1)
        results.append(sent.result)
        await recorded(tmp_path, sent.result["message_id"])
    assert turns_sent(eden.calls[2].body) == [
        ("user", "a kite"),
        ("assistant", ([], [RED])),
        ("user", "make it red"),
        ("assistant", ([], [BLUE])),
        ("user", "add a second kite"),
    ]
