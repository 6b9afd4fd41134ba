"""/history through the real bot: the user's last 20 pictures in the chat, five a page with ◀ ▶,
each with 🔁, 📎 and 📌; another user's page buttons are refused; forgotten ones are said to
be."""

from __future__ import annotations

from pathlib import Path

from bot import texts
from tests.conftest import StartBot
from tests.fakes.eden import FakeEden
from tests.fakes.telegram import Call, FakeTelegram, text_message
from tests.test_buttons_e2e import (
    ALICE,
    BOB,
    GROUP,
    _age,
    _keyboard,
    _prompt,
    _result_in_group,
    _settled,
    _tap,
)


def _entries(call: Call) -> list[str]:
    """The prompts a history page lists, in order."""
    lines = call.params["text"].splitlines()[1:]
    return [line.split(". ", 1)[1].split(" · ")[0] for line in lines if ". " in line]


async def test_history_pages_through_the_last_20_of_25_and_refuses_another_users_pages(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    # Not Telegram's pace of about one message a second per chat: 25 pictures would take 25 s.
    await start_bot(TELEGRAM_RATE_LIMIT="false")
    photos = {}
    for n in range(1, 26):
        asked = await telegram.send(text_message(ALICE, f"picture {n}"))
        photos[n] = (await telegram.reply_to(asked)).files["photo"]
    await _settled(tmp_path, 25)

    # In a private chat: a group's 20 messages a minute would make this test take minutes.
    asked = await telegram.send(text_message(ALICE, "/history"))
    first = await telegram.reply_to(asked)
    assert first.params["text"].splitlines()[0] == (
        "Your last 20 pictures in this chat (page 1 of 4):"
    )
    assert _entries(first) == [f"picture {n}" for n in range(25, 20, -1)]
    buttons = _keyboard(first)
    assert list(buttons) == [
        *(f"{mark} {n}" for n in range(1, 6) for mark in ("🔁", "📎", "📌")), "▶",
    ]  # fmt: skip
    assert all(len(data.encode()) <= 64 for data in buttons.values())

    # Bob may not turn Alice's pages, nor a forged page anyone's.
    refused = await _tap(telegram, first.result, buttons["▶"], BOB)
    assert refused.params["text"] == texts.HISTORY_NOT_YOURS()
    forged = await _tap(telegram, first.result, f"hist|{ALICE}|4", ALICE)
    assert forged.params["text"] == texts.RESULT_BUTTON_UNKNOWN()
    assert telegram.sent("editMessageText") == []

    page = first
    for number, newest in ((2, 20), (3, 15), (4, 10)):
        await _tap(telegram, first.result, _keyboard(page)["▶"], ALICE)
        page = (await telegram.wait_for("editMessageText", count=number - 1))[-1]
        assert page.params["text"].splitlines()[0].endswith(f"(page {number} of 4):")
        assert _entries(page) == [f"picture {n}" for n in range(newest, newest - 5, -1)]
    assert "▶" not in _keyboard(page) and "◀" in _keyboard(page)
    await _tap(telegram, first.result, _keyboard(page)["◀"], ALICE)
    back = (await telegram.wait_for("editMessageText", count=4))[-1]
    assert _entries(back) == [f"picture {n}" for n in range(15, 10, -1)]

    # The last page's entries: 📎 18 is picture 8's original, 🔁 20 draws picture 6 again.
    await _tap(telegram, first.result, _keyboard(page)["📎 18"], ALICE)
    [document] = await telegram.wait_for("sendDocument", ALICE)
    assert document.files["document"] == photos[8]
    assert (await _tap(telegram, first.result, _keyboard(page)["🔁 20"], ALICE)).params[
        "text"
    ] == texts.RESULT_BUTTON_TAKEN()
    await eden.wait_for_calls(26)
    assert _prompt(eden.calls[25].body) == "picture 6"


async def test_history_says_plainly_when_older_pictures_were_forgotten(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden, tmp_path: Path
) -> None:
    await start_bot(GROUP_COOLDOWN_SECONDS="0", REQUEST_RETENTION_DAYS="3")
    for n in (1, 2):
        await _result_in_group(telegram, f"old {n}")
    await _settled(tmp_path, 2)
    _age(tmp_path, 4)
    await _result_in_group(telegram, "new one")
    await _result_in_group(telegram, "bob's own", BOB)  # in the chat, but not Alice's
    await _settled(tmp_path, 4)

    asked = await telegram.send(text_message(GROUP, "/history", ALICE))
    told = await telegram.reply_to(asked)
    assert told.params["text"].splitlines()[0] == ("Your last picture in this chat (page 1 of 1):")
    assert _entries(told) == ["new one"]
    assert told.params["text"].splitlines()[-1] == texts.history_forgotten(2, 3)
    assert list(_keyboard(told)) == ["🔁 1", "📎 1", "📌 1"]

    carol = await telegram.send(text_message(GROUP, "/history", 1003))
    assert (await telegram.reply_to(carol)).params["text"] == texts.HISTORY_EMPTY()


async def test_a_history_entry_is_kept_as_a_saved_reference(
    start_bot: StartBot, telegram: FakeTelegram, tmp_path: Path
) -> None:
    """📌 sends the picture again (by its file_id) saying how to keep it; `/ref add NAME` as a
    reply to it saves it, to be used as #NAME."""
    await start_bot()
    asked = await telegram.send(text_message(ALICE, "a red fox"))
    result = await telegram.reply_to(asked)
    await _settled(tmp_path, 1)
    history = await telegram.reply_to(await telegram.send(text_message(ALICE, "/history")))
    await _tap(telegram, history.result, _keyboard(history)["📌 1"], ALICE)
    again = (await telegram.wait_for("sendPhoto", ALICE, count=2))[-1]
    assert again.params["caption"] == texts.REFERENCE_HOW()
    assert again.params["photo"] == result.result["photo"][-1]["file_id"]  # no upload
    saved = await telegram.ask(text_message(ALICE, "/ref add fox", reply_to=again.result))
    assert saved == texts.ref_saved("fox")
