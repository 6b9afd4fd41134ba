"""One typed codec for every button's callback data (aiogram's `CallbackData` is the model): a
frozen dataclass per kind of button, packed as `prefix|field|…` within Telegram's 64 bytes and
read back strictly, so that forged or stale data is refused in one place."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

# Telegram's limit on callback_data, in bytes.
MAX_BYTES = 64
SEPARATOR = "|"
# Ids are database or Telegram ids: a longer number is forged.
_MAX_ID_DIGITS = 18
_INT = re.compile(rf"-?\d{{1,{_MAX_ID_DIGITS}}}")
# Free text in a field: what our own buttons put there (ratios, sizes, codes, names).
_TEXT = re.compile(r"[\w:.\-+]*")


@dataclass(frozen=True, slots=True)
class Alphabet:
    """A str field's own allowed text, in place of the default one: `Annotated[str,
    Alphabet(re.compile(...))]` (e.g. a model's name, which has a slash)."""

    text: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: Any  # int, str or a StrEnum
    text: re.Pattern[str]  # what a str field may hold
    optional: bool  # `T | None`: left off the end of the data when None


class CallbackData:
    """Base of every button's data. A subclass is a frozen dataclass with a `prefix` class
    variable and fields of type int, str or a StrEnum (an empty str is allowed, so an optional
    value is a str defaulting to ""; a str may carry its own `Alphabet`). Fields typed `T | None`
    come last and are left off the data when None, for formats that never wrote them."""

    prefix: ClassVar[str]
    _fields: ClassVar[tuple[_Field, ...]]

    def __init_subclass__(cls, *, prefix: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # dataclass(slots=True) makes the class again, with its namespace and no class arguments.
        prefix = prefix or cls.__dict__.get("prefix")
        if not prefix or SEPARATOR in prefix:
            raise ValueError(f"bad callback prefix {prefix!r}")
        cls.prefix = prefix

    @classmethod
    def _field_types(cls) -> tuple[_Field, ...]:
        # Resolved on first use: the dataclass decorator runs after __init_subclass__.
        if "_fields" not in cls.__dict__:
            hints = typing.get_type_hints(cls, include_extras=True)
            fields = tuple(_field(f.name, hints[f.name]) for f in dataclasses.fields(cls))  # type: ignore[arg-type]
            optional = [f.optional for f in fields]
            if optional != sorted(optional):
                raise TypeError(f"{cls.__name__}: optional fields must come last")
            cls._fields = fields
        return cls._fields

    def pack(self) -> str:
        """The callback_data string; a ValueError if it would not fit Telegram's 64 bytes."""
        parts = [self.prefix]
        fields = list(self._field_types())
        while fields and fields[-1].optional and getattr(self, fields[-1].name) is None:
            fields.pop()
        for field in fields:
            value = getattr(self, field.name)
            text = value.value if isinstance(value, StrEnum) else str(value)
            if value is None or SEPARATOR in text or _read(field, text) is None:
                raise ValueError(f"{field.name}={text!r} cannot go into callback data")
            parts.append(text)
        data = SEPARATOR.join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def unpack(cls, data: str | None) -> Self | None:
        """The button `data` names; None for anything this bot would never have sent."""
        if not data or len(data.encode()) > MAX_BYTES:
            return None
        prefix, *parts = data.split(SEPARATOR)
        fields = cls._field_types()
        required = sum(not f.optional for f in fields)
        if prefix != cls.prefix or not required <= len(parts) <= len(fields):
            return None
        values: dict[str, Any] = {f.name: None for f in fields[len(parts) :]}
        for field, text in zip(fields, parts, strict=False):
            value = _read(field, text)
            if value is None:
                return None
            values[field.name] = value
        try:
            return cls(**values)
        except ValueError:  # the subclass's own __post_init__ refused the combination
            return None

    @classmethod
    def pattern(cls) -> str:
        """A regex for CallbackQueryHandler that routes this kind's data (then read strictly)."""
        return rf"^{re.escape(cls.prefix)}\{SEPARATOR}"


def _field(name: str, hint: Any) -> _Field:
    text = _TEXT
    if typing.get_origin(hint) is Annotated:
        hint, *extras = typing.get_args(hint)
        text = next((e.text for e in extras if isinstance(e, Alphabet)), _TEXT)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in (
        args := typing.get_args(hint)
    )
    if optional:
        others = [a for a in args if a is not type(None)]
        if len(others) != 1:
            raise TypeError(f"unsupported callback field type {hint!r}")
        hint = others[0]
    kind_ok = hint in (int, str) or (isinstance(hint, type) and issubclass(hint, StrEnum))
    if not kind_ok:
        raise TypeError(f"unsupported callback field type {hint!r}")
    return _Field(name, hint, text, optional)


def _read(field: _Field, text: str) -> Any:
    kind = field.kind
    if kind is int:
        return int(text) if _INT.fullmatch(text) else None
    if kind is str:
        return text if field.text.fullmatch(text) else None
    return kind(text) if text in {member.value for member in kind} else None
