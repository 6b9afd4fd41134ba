"""The door fails closed, the bot is closed by default, anonymous senders are told apart, and
every button tap is answered: through the real bot process, and the doorkeeper's membership
cache against the fake Telegram."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot

from bot.config import AccessSettings
from bot.telegram.door import MEMBERSHIP_TTL, UNSURE_TTL, Doorkeeper
from tests.conftest import BOT_TOKEN, StartBot
from tests.fakes.eden import EdenCall, FakeEden
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram, chat, text_message

ALICE, BOB, ADMIN = 1001, 1002, 1003
CLUB, OTHER_GROUP = -100500, -100600
# Telegram's stand-in for every anonymous group administrator.
GROUP_ANONYMOUS_BOT = 1087968824
# ...and for everyone posting as a channel.
CHANNEL_BOT = 136817688
CHANNELS = (-100901, -100902, -100903)


def _as_anonymous_admin(group: int, text: str) -> dict[str, Any]:
    """A message from an administrator of `group` writing as the group itself."""
    message = text_message(group, text)
    message["from"] = {
        "id": GROUP_ANONYMOUS_BOT,
        "is_bot": True,
        "first_name": "Group",
        "username": "GroupAnonymousBot",
    }
    message["sender_chat"] = chat(group)
    return message


def _as_channel(group: int, channel: int, text: str) -> dict[str, Any]:
    """A message in `group` from someone posting as a `channel` they own."""
    message = text_message(group, text)
    message["from"] = {"id": CHANNEL_BOT, "is_bot": True, "first_name": "Channel"}
    message["sender_chat"] = {"id": channel, "type": "channel", "title": f"Channel{channel}"}
    return message


def _pictures(eden: FakeEden) -> list[EdenCall]:
    """The image requests that reached Eden (not the model list the bot reads by itself)."""
    return [c for c in eden.calls if c.method == "POST"]


def _hang_the_first_picture(eden: FakeEden) -> None:
    """Eden holds the first image request for a minute; everything else is answered at once,
    whatever order the bot's own model-list reads come in."""
    hung: list[str] = []

    async def respond(request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        if request.method == "POST" and not hung:
            hung.append(request.path)
            await asyncio.sleep(60)
        return await eden._default(request, body)

    eden.then(respond)
    eden.then(respond)


# ---- the door --------------------------------------------------------------------------------
async def test_a_refusal_that_cannot_be_sent_still_stops_the_request(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    bot = await start_bot(ALLOWED_USER_IDS=f"{ALICE}", GROUP_COOLDOWN_SECONDS="0")
    telegram.fail_next(
        "sendMessage", 400, "Bad Request: not enough rights to send text messages to the chat"
    )
    await telegram.send(text_message(CLUB, f"@{BOT_USERNAME} a free picture", user_id=BOB))
    await telegram.wait_for("sendMessage", CLUB)
    assert (await telegram.answer(text_message(ALICE, "a fox"))).method == "sendPhoto"
    await bot.stop()  # lets every update in hand finish first
    assert len(_pictures(eden)) == 1
    assert [c.method for c in telegram.sent(chat_id=CLUB)] == ["sendMessage"]  # the failed one


async def test_with_no_list_only_admins_are_served_and_strangers_learn_their_id(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    bot = await start_bot(ALLOW_EVERYONE=None, ADMIN_USER_IDS=f"{ADMIN}")
    refusal = await telegram.ask(text_message(BOB, "a free picture please"))
    assert "private" in refusal
    assert str(BOB) in refusal
    assert (await telegram.answer(text_message(ADMIN, "a wolf"))).method == "sendPhoto"
    assert len(_pictures(eden)) == 1
    await bot.stop()
    # The operator is told which settings open the door, and the stranger's id with them.
    assert "only ADMIN_USER_IDS (1003) are served" in bot.output
    assert "ALLOW_EVERYONE=true" in bot.output
    assert f"add {BOB} to ALLOWED_USER_IDS" in bot.output


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        ({"USER_DAILY_IMAGES": None}, "Left today: 20 of 20 images"),
        ({"USER_DAILY_IMAGES": "3"}, "Left today: 3 of 3 images"),
        ({"USER_DAILY_IMAGES": "0"}, "No limits are set."),
        ({"USER_DAILY_IMAGES": None, "ALLOWED_USER_IDS": f"{ALICE}"}, "No limits are set."),
    ],
    ids=["open-unset", "open-explicit", "open-unlimited", "listed-unset"],
)
async def test_a_bot_open_to_everyone_has_a_daily_limit_unless_told_otherwise(
    start_bot: StartBot, telegram: FakeTelegram, settings: dict[str, str | None], shown: str
) -> None:
    await start_bot(ALLOW_EVERYONE="true", **settings)
    assert shown in await telegram.ask(text_message(ALICE, "/usage"))


# ---- anonymous administrators and channels ---------------------------------------------------
async def test_anonymous_admins_of_different_groups_have_their_own_limits(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    _hang_the_first_picture(eden)  # the club's picture stays in progress until cancelled
    await start_bot(USER_MAX_IN_FLIGHT="1")
    await telegram.send(_as_anonymous_admin(CLUB, f"@{BOT_USERNAME} a club banner"))
    await telegram.wait_for("sendChatAction", CLUB)  # "uploading photo…": it is in progress
    other = _as_anonymous_admin(OTHER_GROUP, f"@{BOT_USERNAME} another banner")
    assert (await telegram.answer(other)).method == "sendPhoto"
    assert await telegram.ask(_as_anonymous_admin(CLUB, "/cancel")) == (
        "Stopped. This one still counts: its picture was already being made."
    )
    usage = await telegram.ask(_as_anonymous_admin(OTHER_GROUP, "/usage"))
    assert "Today: 1 image," in usage
    assert telegram.sent("sendPhoto", CLUB) == []


async def test_anonymous_admins_get_in_by_their_chat_never_as_a_user(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.members[CLUB] = {ALICE}
    # Even an operator who listed the service account (it is what the logs used to name) lets
    # in no anonymous admin of a chat that is not listed.
    await start_bot(
        ALLOWED_CHAT_IDS=f"{CLUB}",
        ALLOWED_USER_IDS=f"{GROUP_ANONYMOUS_BOT}",
        GROUP_COOLDOWN_SECONDS="0",
    )
    inside = _as_anonymous_admin(CLUB, f"@{BOT_USERNAME} a club banner")
    assert (await telegram.answer(inside)).method == "sendPhoto"
    refusal = await telegram.ask(_as_anonymous_admin(OTHER_GROUP, f"@{BOT_USERNAME} me too"))
    assert "private" in refusal
    assert str(OTHER_GROUP) in refusal
    assert str(GROUP_ANONYMOUS_BOT) not in refusal
    assert len(_pictures(eden)) == 1
    asked = [int(c.params["user_id"]) for c in telegram.sent("getChatMember")]
    assert GROUP_ANONYMOUS_BOT not in asked


async def test_posting_as_channels_gets_around_no_refusal_and_no_limit(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.members[CLUB] = {ALICE}
    await start_bot(
        ALLOWED_CHAT_IDS=f"{CLUB}",
        ADMIN_USER_IDS=f"{ADMIN}",
        USER_DAILY_IMAGES="1",
        GROUP_COOLDOWN_SECONDS="0",
    )
    first, *others = CHANNELS
    mine = text_message(CLUB, f"@{BOT_USERNAME} a fox", user_id=ALICE)
    assert (await telegram.answer(mine)).method == "sendPhoto"
    again = text_message(CLUB, f"@{BOT_USERNAME} a fox again", user_id=ALICE)
    assert "today's images" in await telegram.ask(again)
    # The group's allowance does not let in a channel posting there: it must be let in itself.
    refusal = await telegram.ask(_as_channel(CLUB, first, f"@{BOT_USERNAME} as a channel"))
    assert "private" in refusal
    assert str(first) in refusal
    for channel in CHANNELS:
        await telegram.ask(text_message(ADMIN, f"/allow {channel}"))
    # Let in, a channel counts against the group, whoever posts as it: one image for all.
    one = _as_channel(CLUB, first, f"@{BOT_USERNAME} one")
    assert (await telegram.answer(one)).method == "sendPhoto"
    for channel in others:
        reply = await telegram.ask(_as_channel(CLUB, channel, f"@{BOT_USERNAME} another"))
        assert "today's images" in reply
    # A /deny of the channel stops it.
    await telegram.ask(text_message(ADMIN, f"/deny {first}"))
    assert "private" in await telegram.ask(_as_channel(CLUB, first, f"@{BOT_USERNAME} more"))
    assert len(_pictures(eden)) == 2


async def test_an_open_bot_lets_in_no_channel_posting_in_a_group(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot(ALLOW_EVERYONE="true", USER_DAILY_IMAGES="1", GROUP_COOLDOWN_SECONDS="0")
    for channel in CHANNELS:
        reply = await telegram.ask(_as_channel(CLUB, channel, f"@{BOT_USERNAME} a free one"))
        assert str(channel) in reply
    # The group's anonymous admins are still served as the group.
    banner = _as_anonymous_admin(CLUB, f"@{BOT_USERNAME} a club banner")
    assert (await telegram.answer(banner)).method == "sendPhoto"
    assert len(_pictures(eden)) == 1


# ---- buttons and echoed input ----------------------------------------------------------------
FORGED = [
    "set|nonsense",
    "set",
    "zzz",
    "set|",
    "set|ratio|",
    "set|ratio|" + "9" * 60,
    "set|colour|red",
    "set|ratio|7:3",
    "set|size|9K",
    "set|model|evil/model",
]


async def test_every_button_tap_is_answered_and_forged_ones_change_nothing(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot()
    menu = await telegram.answer(text_message(ALICE, "/ratio"))
    pressed = {await telegram.press(menu.result, data, user_id=ALICE) for data in FORGED}
    answers = await telegram.wait_for("answerCallbackQuery", count=len(FORGED))
    assert {a.params["callback_query_id"] for a in answers} == pressed
    assert all(a.params.get("text") for a in answers), answers
    assert telegram.sent("editMessageText") == []
    shown = await telegram.ask(text_message(ALICE, "/settings"))
    assert "Aspect ratio: 1:1\nSize: 1K\nResults as: photo" in shown


async def test_a_button_tap_that_fails_is_still_answered(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot()
    menu = await telegram.answer(text_message(CLUB, "/size", user_id=ALICE))
    telegram.fail_next("getChatMember", 500, "Internal Server Error")
    await telegram.press(menu.result, "set|size|2K", user_id=ALICE)
    [answer] = await telegram.wait_for("answerCallbackQuery")
    assert answer.params["text"].startswith("Sorry, something went wrong")
    assert telegram.sent("editMessageText") == []


async def test_a_rejected_setting_quotes_only_the_start_of_what_was_typed(
    start_bot: StartBot, telegram: FakeTelegram
) -> None:
    await start_bot()
    reply = await telegram.ask(text_message(ALICE, "/ratio " + "x" * 5000))
    assert reply.startswith("“" + "x" * 40 + "…” is not a valid aspect ratio.")
    assert len(reply) < 400


# ---- membership lookups ----------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_failed_membership_lookup_is_not_remembered_for_long(
    telegram: FakeTelegram,
) -> None:
    telegram.members[CLUB] = {ALICE}
    clock = _Clock()
    doorkeeper = Doorkeeper(AccessSettings(allowed_chat_ids=(CLUB,)), clock=clock)
    async with Bot(BOT_TOKEN, base_url=f"{telegram.url}/bot") as bot:
        telegram.fail_next("getChatMember", 500, "Internal Server Error")
        assert not await doorkeeper.allows(bot, ALICE, None)
        # A burst of messages does not become a burst of lookups...
        assert not await doorkeeper.allows(bot, ALICE, None)
        assert len(telegram.sent("getChatMember")) == 1
        # ...but the next message after a short while asks again, and a definite answer stays.
        clock.now += UNSURE_TTL + 1
        assert await doorkeeper.allows(bot, ALICE, None)
        clock.now += MEMBERSHIP_TTL / 2
        assert await doorkeeper.allows(bot, ALICE, None)
        assert len(telegram.sent("getChatMember")) == 2
