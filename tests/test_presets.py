"""The built-in presets: every language names each with one word of its own, typed names find
them in English or the user's language (right-to-left marks and case aside), and /presets
buttons' data is read strictly."""

from __future__ import annotations

import pytest

from bot import i18n
from bot.presets import BUILTIN, PresetSource, builtin, key
from bot.telegram.handlers.presets import PresetButton


@pytest.mark.parametrize("code", list(i18n.LANGUAGES))
def test_each_language_names_every_preset_with_one_word_of_its_own(code: str) -> None:
    with i18n.speaking(code):
        names = [key(p.shown) for p in BUILTIN]
        assert all(len(name.split()) == 1 for name in names), names
        assert len(set(names)) == len(BUILTIN), names
        for preset, name in zip(BUILTIN, names, strict=True):
            assert builtin(name.upper()) is preset
            assert builtin(preset.name) is preset


def test_a_persian_name_is_found_without_its_direction_marks() -> None:
    with i18n.speaking("fa"):
        assert "\u200f" in BUILTIN[7].shown  # how a right-to-left catalog shows it
        assert builtin("آبرنگ") is BUILTIN[7]
    assert builtin("آبرنگ") is None  # in English it is no preset's name


def test_every_template_takes_the_users_words() -> None:
    assert len(BUILTIN) >= 12
    for preset in BUILTIN:
        assert "{text}" in preset.template
        assert "{text}" not in preset.wrap("a cat", with_images=False)
        assert "a cat" in preset.wrap("a cat", with_images=False)


@pytest.mark.parametrize(
    "data",
    ["pst|b|cubism", "pst|x|anime", "pst|b|anime|1", "pst|b|", "set|b|anime", "pst|u|a-b",
     "pst|u|" + "n" * 25, None],
)  # fmt: skip
def test_forged_preset_buttons_are_refused(data: str | None) -> None:
    assert PresetButton.unpack(data) is None


def test_a_preset_button_reads_back_what_was_sent() -> None:
    for button in (
        PresetButton(PresetSource.BUILTIN, "anime"),
        PresetButton(PresetSource.USER, "ноир"),
    ):
        data = button.pack()
        assert len(data.encode()) <= 64
        assert PresetButton.unpack(data) == button
