"""Saved references through the real bot process: /ref add, /refs and its delete buttons, `#name`
and `#me` attached as inputs, group pictures by admins, and nobody's profile photo fetched but
the sender's own unless its owner shared it."""

from __future__ import annotations

import base64
from typing import Any

from bot import texts
from tests.conftest import StartBot
from tests.fakes.eden import FakeEden
from tests.fakes.images import jpeg, png
from tests.fakes.telegram import BOT_USERNAME, Call, FakeTelegram, photo_message, text_message

ALICE, BOB = 5001, 5002
GROUP, ADMIN = -100500, 5003
CAT, HAT, FACE = jpeg(60, 40, (10, 10, 10)), png(30, 30, (200, 0, 0)), jpeg(50, 50, (0, 90, 0))
LOGO, BOBS_FACE = png(40, 40, (0, 0, 200)), jpeg(48, 48, (90, 0, 90))


def _inputs(body: dict[str, Any]) -> list[bytes]:
    [message] = body["messages"]
    return [
        base64.b64decode(p["image_url"]["url"].split(",", 1)[1])
        for p in message["content"]
        if p["type"] == "image_url"
    ]


def _prompt(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def _photo(
    telegram: FakeTelegram, chat_id: int, data: bytes, user_id: int, **kw: Any
) -> dict[str, Any]:
    message = photo_message(chat_id, [(telegram.add_file(data), 60, 40, len(data))], **kw)
    message["from"]["id"] = user_id
    return message


def _lookups(telegram: FakeTelegram, user_id: int) -> list[Call]:
    return [c for c in telegram.sent("getUserProfilePhotos") if int(c.params["user_id"]) == user_id]


async def _tap(telegram: FakeTelegram, message: dict[str, Any], data: str, user_id: int) -> str:
    query = await telegram.press(message, data, user_id)
    await telegram.wait_until(
        lambda: any(
            c.params["callback_query_id"] == query for c in telegram.sent("answerCallbackQuery")
        )
    )
    [answer] = [
        c for c in telegram.sent("answerCallbackQuery") if c.params["callback_query_id"] == query
    ]
    return str(answer.params["text"])


async def test_saved_pictures_and_the_senders_profile_photo_are_attached_by_name(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.profile_photos[ALICE] = [FACE]
    await start_bot()
    cat = await telegram.send(_photo(telegram, ALICE, CAT, ALICE))
    await telegram.reply_to(cat)  # the caption hint
    saved = await telegram.ask(text_message(ALICE, "/ref add Cat", reply_to=cat))
    assert saved == texts.ref_saved("cat")
    reply = await telegram.answer(_photo(telegram, ALICE, HAT, ALICE, caption="/ref add hat"))
    assert reply.params["text"] == texts.ref_saved("hat")
    assert await telegram.ask(text_message(ALICE, "/ref add me", reply_to=cat)) == (
        texts.ref_bad_name("me")
    )

    result = await telegram.answer(text_message(ALICE, "#me wearing #hat, holding #CAT"))
    assert result.method == "sendPhoto"
    [call] = eden.calls
    assert _inputs(call.body) == [FACE, HAT, CAT]
    assert _prompt(call.body) == "me wearing hat, holding CAT"
    # Only the sender's own profile photo was looked up.
    assert [int(c.params["user_id"]) for c in telegram.sent("getUserProfilePhotos")] == [ALICE]

    listed = await telegram.answer(text_message(ALICE, "/refs"))
    [album] = telegram.sent("sendMediaGroup", ALICE)  # the thumbnails come first
    assert [(m["type"], m["caption"]) for m in album.params["media"]] == [
        ("photo", "#cat"),
        ("photo", "#hat"),
    ]
    buttons = {
        b["text"]: b["callback_data"]
        for row in listed.params["reply_markup"]["inline_keyboard"]
        for b in row
    }
    assert list(buttons) == ["🗑 #cat", "🗑 #hat"]
    assert await _tap(telegram, listed.result, buttons["🗑 #cat"], BOB) == texts.REF_NOT_YOURS()
    assert await _tap(telegram, listed.result, buttons["🗑 #cat"], ALICE) == texts.ref_deleted("cat")

    # An unknown name is answered with the list, and nothing goes upstream.
    unknown = await telegram.ask(text_message(ALICE, "#cat on the moon"))
    assert unknown == texts.unknown_refs(["#cat"], ["hat"])
    assert len(eden.calls) == 1


async def test_nobody_elses_profile_photo_is_fetched_unless_they_shared_it(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.profile_photos[BOB] = [BOBS_FACE]
    telegram.admins[GROUP] = {ADMIN}
    await start_bot(GROUP_COOLDOWN_SECONDS="0")
    mention = f"@{BOT_USERNAME}"
    refused = await telegram.ask(text_message(GROUP, f"{mention} #bob as a pirate", user_id=ALICE))
    assert refused == texts.unknown_refs(["#bob"], [])
    assert _lookups(telegram, BOB) == []

    def bobs(text: str) -> dict[str, Any]:
        message = text_message(GROUP, text, user_id=BOB)
        message["from"]["username"] = "Bob"
        return message

    assert await telegram.ask(bobs("/ref avatar on")) == texts.avatar_shared("bob")
    await telegram.answer(text_message(GROUP, f"{mention} #bob as a pirate", user_id=ALICE))
    assert _inputs(eden.calls[0].body) == [BOBS_FACE]
    assert len(_lookups(telegram, BOB)) == 1

    assert await telegram.ask(bobs("/ref avatar off")) == texts.AVATAR_PRIVATE()
    refused = await telegram.ask(text_message(GROUP, f"{mention} #bob again", user_id=ALICE))
    assert refused == texts.unknown_refs(["#bob"], [])
    assert len(_lookups(telegram, BOB)) == 1
    assert len(eden.calls) == 1

    # A group's picture: saved by its administrators, used by every member.
    logo = await telegram.send(_photo(telegram, GROUP, LOGO, ADMIN))
    not_admin = text_message(GROUP, "/ref group logo", user_id=ALICE, reply_to=logo)
    assert await telegram.ask(not_admin) == texts.SETTINGS_ADMINS_ONLY()
    by_admin = text_message(GROUP, "/ref group logo", user_id=ADMIN, reply_to=logo)
    assert await telegram.ask(by_admin) == texts.ref_saved("logo")
    await telegram.answer(text_message(GROUP, f"{mention} #logo on a mug", user_id=ALICE))
    assert _inputs(eden.calls[-1].body) == [LOGO]
