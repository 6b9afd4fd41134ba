"""The gettext catalogs, and the language of the update or job being handled (a ContextVar)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.support import NullTranslations, Translations

DOMAIN = "bot"
LOCALES = Path(__file__).parent / "locales"
DEFAULT = "en"
# The shipped languages, by their catalog's name, each with its own name for /language.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Русский",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
    "id": "Bahasa Indonesia",
    "fa": "فارسی",
}
# Telegram's language codes (IETF tags: `pt-br`, `es-419`) whose primary subtag alone does not
# name a catalog: Portuguese from anywhere gets Brazilian rather than English; `in` is the old
# code for Indonesian.
_ALIASES = {"pt": "pt_BR", "in": "id"}

# In a right-to-left sentence a command, a ratio or a model name (Latin letters, digits and
# neutral signs such as `/`, `:` or the multiplication sign) would take its neighbours'
# direction: `/ratio` shows as `ratio/`, and a width and height swap places. Marks fix that:
# each line opens with a right-to-left mark (so a line starting with a command is still laid out
# right to left), and each command and placeholder is fenced with left-to-right marks.
_RLM, _LRM = "\u200f", "\u200e"
_LATIN_RUN = re.compile(r"/\w+|@?\{\w*\}")


def _right_to_left(text: str) -> str:
    fenced = _LATIN_RUN.sub(lambda m: f"{_LRM}{m[0]}{_LRM}", text)
    return "\n".join(_RLM + line if line else line for line in fenced.split("\n"))


@dataclass(frozen=True, slots=True)
class Language:
    """One catalog, ready to translate."""

    code: str
    locale: Locale
    translations: NullTranslations

    @property
    def rtl(self) -> bool:
        return self.locale.text_direction == "rtl"

    def gettext(self, message: str) -> str:
        text = self.translations.gettext(message)
        return _right_to_left(text) if self.rtl else text

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return _right_to_left(text) if self.rtl else text


def _load(code: str) -> Language:
    translations = Translations.load(LOCALES, [code], DOMAIN)
    if code != DEFAULT and not isinstance(translations, Translations):
        # Babel falls back to no translation at all when the .mo is missing: say so at start.
        raise FileNotFoundError(f"no compiled catalog for {code!r} in {LOCALES}")
    return Language(code, Locale.parse(code), translations)


# Read once at import and never changed: shared by every update and job.
_CATALOGS = {code: _load(code) for code in LANGUAGES}

_current: ContextVar[Language] = ContextVar("language", default=_CATALOGS[DEFAULT])


def catalog_name(code: str | None) -> str | None:
    """The shipped language a code names (`pt-br`, `pt_BR`, `es-419`, `RU`), or None."""
    if not code:
        return None
    tag = code.strip().replace("_", "-").lower()
    for name in LANGUAGES:
        if tag == name.replace("_", "-").lower():
            return name
    primary = tag.split("-")[0]
    return _ALIASES.get(primary) or (primary if primary in LANGUAGES else None)


def pick(telegram_code: str | None) -> str:
    """The language for a Telegram `language_code`: the one it names, else English."""
    return catalog_name(telegram_code) or DEFAULT


def use(code: str) -> None:
    """Speak `code` for the rest of this task: an update's handlers, or a worker's job. Each
    update and each job runs in its own asyncio task, with its own copy of the variable."""
    _current.set(_CATALOGS.get(code, _CATALOGS[DEFAULT]))


@contextmanager
def speaking(code: str) -> Iterator[None]:
    """Speak `code` within the block only (in a task that serves several users)."""
    token = _current.set(_CATALOGS.get(code, _CATALOGS[DEFAULT]))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Language:
    return _current.get()


def gettext(message: str) -> str:
    return _current.get().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current.get().ngettext(singular, plural, n)


@dataclass(frozen=True, slots=True)
class Text:
    """A fixed sentence, translated into the current language when called."""

    message: str

    def __call__(self) -> str:
        return gettext(self.message)
