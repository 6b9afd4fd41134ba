"""The catalogs: complete, with the English placeholders, compiled from their .po; languages
picked from Telegram's codes; right-to-left marks in Persian."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from babel.support import Translations

from bot import i18n, texts
from bot.domain import NoPictureReason
from bot.upstream import errors as e

LOCALES = i18n.LOCALES
TRANSLATED = [code for code in i18n.LANGUAGES if code != i18n.DEFAULT]


def _catalog(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def _po(code: str) -> Path:
    return LOCALES / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def _placeholders(text: str) -> set[str]:
    """`{name}` fields, and `%(name)s` / `%d` conversions, as the text's formatting reads them."""
    fields = {f"{{{name}}}" for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    return fields | set(re.findall(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdifr]", text))


def _ids(message: Message) -> tuple[str, ...]:
    """The English: (singular,) or (singular, plural)."""
    found = message.id if isinstance(message.id, tuple | list) else (message.id,)
    return tuple(str(text) for text in found)


def _strings(message: Message) -> tuple[str, ...]:
    """The translation's forms; an empty string where one is missing."""
    found = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return tuple(text or "" for text in found)


TEMPLATE = [m for m in _catalog(LOCALES / f"{i18n.DOMAIN}.pot") if m.id]
# The first words of each longer English message: no translation may carry another's.
OPENINGS = {_ids(m)[0][:40] for m in TEMPLATE if len(_ids(m)[0]) >= 40}


def test_the_template_holds_every_sentence_of_texts() -> None:
    """bot.pot is up to date with bot/texts/ (scripts/catalogs.sh makes it)."""
    ids = {_ids(m)[0] for m in TEMPLATE}
    assert texts.CANCELLED.message in ids
    assert texts.HELP.message in ids
    assert all(description.message in ids for _, description in texts.COMMANDS)
    assert "/language" in texts.HELP.message


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated_with_the_same_placeholders(code: str) -> None:
    catalog = _catalog(_po(code))
    problems = []
    for english in TEMPLATE:
        found = catalog.get(english.id)
        if found is None or not all(_strings(found)):
            problems.append(f"untranslated: {_ids(english)[0]!r}")
            continue
        singular, *plural = (_placeholders(text) for text in _ids(english))
        allowed = singular.union(*plural)
        for text in _strings(found):
            # A plural form may leave out the number ("a picture"), never add or misname one.
            if not singular <= _placeholders(text) <= allowed:
                problems.append(f"placeholders {_placeholders(text)} vs {allowed}: {text!r}")
            own = "\n".join(_ids(english))
            if leaked := [o for o in OPENINGS if o in text and o not in own]:
                problems.append(f"another message's English, {leaked[0]!r}, in {text!r}")
    assert problems == []


@pytest.mark.parametrize("code", list(i18n.LANGUAGES))
def test_the_committed_mo_files_match_their_po(code: str) -> None:
    """The .mo files are committed; one not compiled again after a .po change fails here."""
    with (LOCALES / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo").open("rb") as file:
        compiled = Translations(file, domain=i18n.DOMAIN)
    for message in _catalog(_po(code)):
        if not message.id:
            continue
        english = _ids(message)
        if len(english) == 2:
            for n in (1, 2, 5, 21):
                got = compiled.ngettext(english[0], english[1], n)
                assert got in (*_strings(message), *english), (code, english, n)
        else:
            assert compiled.gettext(english[0]) == (_strings(message)[0] or english[0]), english


@pytest.mark.parametrize(
    ("telegram", "catalog"),
    [
        ("ru", "ru"),
        ("pt-br", "pt_BR"),
        ("pt", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("es-419", "es"),
        ("ES", "es"),
        ("id", "id"),
        ("fa", "fa"),
        ("en-GB", "en"),
        ("de", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_telegram_codes_pick_a_shipped_language(telegram: str | None, catalog: str) -> None:
    assert i18n.pick(telegram) == catalog


def test_languages_are_kept_apart_and_plurals_follow_each_language() -> None:
    with i18n.speaking("ru"):
        assert texts.queued(3) == "В очереди: перед вами 3 запроса."
        assert texts.queued(5) == "В очереди: перед вами 5 запросов."
        with i18n.speaking("es"):
            assert texts.CANCELLED() == "Cancelado."
        assert texts.CANCELLED() == "Отменено."
    assert texts.CANCELLED() == "Cancelled."


def test_persian_lines_read_right_to_left_with_commands_kept_left_to_right() -> None:
    rlm, lrm = "\u200f", "\u200e"
    with i18n.speaking("fa"):
        assert i18n.current().rtl
        help_text = texts.help_text("EdenBot")
    lines = [line for line in help_text.split("\n") if line]
    assert all(line.startswith(rlm) for line in lines)
    assert f"{rlm}{lrm}/ratio{lrm} - نسبت ابعاد" in help_text
    assert f"{lrm}@EdenBot{lrm}" in help_text
    with i18n.speaking("en"):
        assert "\u200f" not in texts.help_text("EdenBot")


@pytest.mark.parametrize("code", list(i18n.LANGUAGES))
def test_each_way_of_ending_without_a_picture_has_its_own_message(code: str) -> None:
    """Every NoPictureReason gets a message of its own, in the user's language, saying that it
    was free; the model's words follow where it gave any."""
    with i18n.speaking(code):
        said: dict[NoPictureReason, str] = {
            reason: texts.upstream_failure(e.NoImageReturned(None, reason.value))
            for reason in NoPictureReason
            if reason not in (NoPictureReason.REFUSAL, NoPictureReason.TEXT_ONLY)
        }
        said[NoPictureReason.REFUSAL] = texts.upstream_failure(
            e.NoImageReturned("Not that.", None, refusal="Not that.")
        )
        said[NoPictureReason.TEXT_ONLY] = texts.upstream_failure(
            e.NoImageReturned("A poem instead.", "stop")
        )
        free = texts._FREE()
    assert len(set(said.values())) == len(NoPictureReason)
    assert all(free in text for text in said.values())
    assert said[NoPictureReason.REFUSAL].endswith("\nNot that.")
    assert said[NoPictureReason.TEXT_ONLY].endswith("\nA poem instead.")
    if code != i18n.DEFAULT:
        with i18n.speaking(i18n.DEFAULT):
            english = texts.upstream_failure(e.NoImageReturned(None, "IMAGE_RECITATION"))
        assert said[NoPictureReason.IMAGE_RECITATION] != english
