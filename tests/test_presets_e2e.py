"""Presets through the real bot: built-in ones typed (`/p NAME text`, as text or as a photo's
caption) or tapped in /presets, in English and in Russian; users' own and groups' own; forged
buttons and unknown names."""

from __future__ import annotations

from typing import Any

from bot import i18n, texts
from bot.presets import builtin
from tests.conftest import StartBot
from tests.fakes.eden import FakeEden
from tests.fakes.images import jpeg
from tests.fakes.telegram import BOT_USERNAME, Call, FakeTelegram, photo_message, text_message, user
from tests.test_buttons_e2e import _images, _prompt

ALICE, BORIS = 1001, 1002  # Alice's Telegram speaks English, Boris's Russian
GROUP = -100800
ADMIN, MEMBER = 11, 12


def _text(user_id: int, text: str, language: str) -> dict[str, Any]:
    return text_message(user_id, text, language=language)


def _photo(
    telegram: FakeTelegram, user_id: int, data: bytes, language: str, caption: str | None = None
) -> dict[str, Any]:
    file_id = telegram.add_file(data)
    return photo_message(
        user_id,
        [(file_id, 80, 60, len(data))],
        caption=caption,
        **{"from": user(user_id, language)},
    )


def _wrapped(name: str, text: str, with_images: bool = False) -> str:
    preset = builtin(name)
    assert preset is not None
    return preset.wrap(text, with_images)


def _keyboard(call: Call) -> dict[str, str]:
    rows = call.params["reply_markup"]["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def _tap(
    telegram: FakeTelegram, message: dict[str, Any], data: str, user_id: int, language: str = "en"
) -> str:
    """Press a button; the text of the bot's answer to that tap."""
    query_id = await telegram.press(message, data, user_id, language)
    await telegram.wait_until(
        lambda: any(c.params["callback_query_id"] == query_id
                    for c in telegram.sent("answerCallbackQuery"))
    )  # fmt: skip
    [answer] = [
        c for c in telegram.sent("answerCallbackQuery") if c.params["callback_query_id"] == query_id
    ]
    return str(answer.params.get("text", ""))


async def test_presets_wrap_text_and_photos_typed_or_tapped_in_english_and_in_russian(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    photo = jpeg(80, 60)

    # Typed, as text: the English name in English, the Russian label (any case) in Russian.
    await telegram.answer(_text(ALICE, "/p Watercolor a harbour at dawn", "en"))
    await telegram.answer(_text(BORIS, "/p акварель гавань на рассвете", "ru"))
    # Typed, as a photo's caption: the English name works in any language.
    await telegram.answer(_photo(telegram, BORIS, photo, "ru", "/p pixel мой кот"))
    assert [_prompt(c.body) for c in eden.calls] == [
        _wrapped("watercolor", "a harbour at dawn"),
        _wrapped("watercolor", "гавань на рассвете"),
        _wrapped("pixel", "мой кот", with_images=True),
    ]
    assert _images(eden.calls[2].body) == [photo]

    # Tapped in /presets: the labels in the user's language, and the tap says what happens.
    shown = await telegram.answer(_text(ALICE, "/presets", "en"))
    assert shown.params["text"] == texts.PRESETS_INTRO()
    english = _keyboard(shown)
    assert list(english)[:12] == [
        "Sticker", "Avatar", "Poster", "Figurine", "Restore", "Colorize", "Product",
        "Watercolor", "Anime", "Pixel", "Infographic", "Logo",
    ]  # fmt: skip
    assert all(len(data.encode()) <= 64 for data in english.values())
    answer = await _tap(telegram, shown.result, english["Sticker"], ALICE)
    assert answer == texts.preset_chosen("Sticker")
    # The next photo, even without a caption, is wrapped; the one after is not.
    await telegram.answer(_photo(telegram, ALICE, photo, "en"))
    await telegram.answer(_text(ALICE, "a plain request", "en"))

    shown = await telegram.answer(_text(BORIS, "/presets", "ru"))
    russian = _keyboard(shown)
    assert "Реставрация" in russian and "Стикер" in russian
    answer = await _tap(telegram, shown.result, russian["Реставрация"], BORIS, "ru")
    with i18n.speaking("ru"):
        assert answer == texts.preset_chosen("Реставрация")
    await telegram.answer(_photo(telegram, BORIS, photo, "ru", "дедушка в 1950 году"))

    assert [_prompt(c.body) for c in eden.calls[3:]] == [
        _wrapped("sticker", "", with_images=True),
        "a plain request",
        _wrapped("restore", "дедушка в 1950 году", with_images=True),
    ]
    assert "the subject of the attached photo" in _prompt(eden.calls[3].body)
    assert "#00FF00" in _prompt(eden.calls[3].body)  # a flat background, for the sticker
    assert _images(eden.calls[5].body) == [photo]


async def test_unknown_names_and_forged_buttons_send_nothing_upstream(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    await start_bot()
    unknown = await telegram.ask(_text(ALICE, "/p cubism a pear", "en"))
    assert unknown == (
        "There is no preset “cubism”. The presets: Sticker, Avatar, Poster, Figurine, Restore, "
        "Colorize, Product, Watercolor, Anime, Pixel, Infographic, Logo."
    )
    assert (await telegram.ask(_text(ALICE, "/p", "en"))).startswith("Which preset?")
    needs = await telegram.ask(_text(ALICE, "/p anime", "en"))
    assert needs == texts.preset_needs_text("Anime")

    shown = await telegram.answer(_text(ALICE, "/presets", "en"))
    for forged in ("pst|b|cubism", "pst|x|anime", "pst|u|ghost", "pst|b|anime|x", "pst|b|"):
        assert await _tap(telegram, shown.result, forged, ALICE) == texts.UNKNOWN_BUTTON()
    await telegram.answer(_text(ALICE, "a pear", "en"))
    assert [_prompt(c.body) for c in eden.calls] == ["a pear"]  # no preset was chosen


async def test_users_keep_their_own_presets_and_group_admins_the_groups(
    start_bot: StartBot, telegram: FakeTelegram, eden: FakeEden
) -> None:
    telegram.admins[GROUP] = {ADMIN}
    await start_bot(GROUP_COOLDOWN_SECONDS="0")
    noir = "/preset add Noir {text}, as a 1940s film noir still"
    assert await telegram.ask(_text(ALICE, noir, "en")) == texts.preset_saved("noir")
    assert await telegram.ask(_text(ALICE, "/preset add bad no placeholder", "en")) == (
        texts.preset_bad_template(1000)
    )
    assert await telegram.ask(_text(ALICE, "/preset add b-ad {text}", "en")) == (
        texts.preset_bad_name(24)
    )
    await telegram.answer(_text(ALICE, "/p NOIR a detective", "en"))
    shown = await telegram.answer(_text(ALICE, "/presets", "en"))
    assert _keyboard(shown)["noir"] == "pst|u|noir"
    await _tap(telegram, shown.result, "pst|u|noir", ALICE)
    await telegram.answer(_text(ALICE, "a rainy street", "en"))
    assert [_prompt(c.body) for c in eden.calls] == [
        "a detective, as a 1940s film noir still",
        "a rainy street, as a 1940s film noir still",
    ]
    # Alice's presets are hers: Boris has none.
    assert (await telegram.ask(_text(BORIS, "/p noir x", "en"))).startswith("There is no preset")
    assert await telegram.ask(_text(ALICE, "/preset del noir", "en")) == (
        texts.preset_deleted("noir")
    )
    assert (await telegram.ask(_text(ALICE, "/p noir x", "en"))).startswith("There is no preset")

    # In a group, the group's presets, set by its admins and used by everyone in it.
    team = f"/preset@{BOT_USERNAME} add team {{text}} in our team's orange and navy"
    refused = await telegram.ask(text_message(GROUP, team, MEMBER))
    assert refused == texts.PRESETS_ADMINS_ONLY()
    assert await telegram.ask(text_message(GROUP, team, ADMIN)) == texts.preset_saved("team")
    await telegram.answer(text_message(GROUP, f"/p@{BOT_USERNAME} team a mascot", MEMBER))
    assert _prompt(eden.calls[-1].body) == "a mascot in our team's orange and navy"
    # As a photo's caption: addressed to the bot by the command itself.
    photo = jpeg(80, 60)
    captioned = photo_message(
        GROUP,
        [(telegram.add_file(photo), 80, 60, len(photo))],
        caption=f"/p@{BOT_USERNAME} team our bus",
        **{"from": user(MEMBER)},
    )
    await telegram.answer(captioned)
    assert _prompt(eden.calls[-1].body) == "our bus in our team's orange and navy"
    assert _images(eden.calls[-1].body) == [photo]
    shown = await telegram.answer(text_message(GROUP, f"/presets@{BOT_USERNAME}", MEMBER))
    assert _keyboard(shown)["team"] == "pst|c|team"
    # Nowhere else.
    assert (await telegram.ask(_text(MEMBER, "/p team x", "en"))).startswith("There is no")
    assert len(eden.calls) == 4
