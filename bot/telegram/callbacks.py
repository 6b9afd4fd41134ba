"""One typed codec for every button's callback data (aiogram's `CallbackData` is the model): a
frozen dataclass per kind of button, packed as `prefix|field|…` within Telegram's 64 bytes and
read back strictly, so that forged or stale data is refused in one place."""

from __future__ import annotations

import dataclasses
import re
import typing
from enum import StrEnum
from typing import Any, ClassVar, Self

# Telegram's limit on callback_data, in bytes.
MAX_BYTES = 64
SEPARATOR = "|"
# Ids are database or Telegram ids: a longer number is forged.
_MAX_ID_DIGITS = 18
_INT = re.compile(rf"-?\d{{1,{_MAX_ID_DIGITS}}}")
# Free text in a field: what our own buttons put there (ratios, sizes, codes, names).
_TEXT = re.compile(r"[\w:.\-+]*")


class CallbackData:
    """Base of every button's data. A subclass is a frozen dataclass with a `prefix` class
    variable and fields of type int, str or a StrEnum (an empty str is allowed, so an optional
    value is a str defaulting to "")."""

    prefix: ClassVar[str]
    _fields: ClassVar[tuple[tuple[str, Any], ...]]

    def __init_subclass__(cls, *, prefix: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # dataclass(slots=True) makes the class again, with its namespace and no class arguments.
        prefix = prefix or cls.__dict__.get("prefix")
        if not prefix or SEPARATOR in prefix:
            raise ValueError(f"bad callback prefix {prefix!r}")
        cls.prefix = prefix

    @classmethod
    def _field_types(cls) -> tuple[tuple[str, Any], ...]:
        # Resolved on first use: the dataclass decorator runs after __init_subclass__.
        if "_fields" not in cls.__dict__:
            hints = typing.get_type_hints(cls)
            cls._fields = tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        return cls._fields

    def pack(self) -> str:
        """The callback_data string; a ValueError if it would not fit Telegram's 64 bytes."""
        parts = [self.prefix]
        for name, kind in self._field_types():
            value = getattr(self, name)
            text = value.value if isinstance(value, StrEnum) else str(value)
            if SEPARATOR in text or (kind is str and not _TEXT.fullmatch(text)):
                raise ValueError(f"{name}={text!r} cannot go into callback data")
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
        if prefix != cls.prefix or len(parts) != len(fields):
            return None
        values: dict[str, Any] = {}
        for (name, kind), text in zip(fields, parts, strict=True):
            value = _read(kind, text)
            if value is None:
                return None
            values[name] = value
        try:
            return cls(**values)
        except ValueError:  # the subclass's own __post_init__ refused the combination
            return None

    @classmethod
    def pattern(cls) -> str:
        """A regex for CallbackQueryHandler that routes this kind's data (then read strictly)."""
        return rf"^{re.escape(cls.prefix)}\{SEPARATOR}"


def _read(kind: Any, text: str) -> Any:
    if kind is int:
        return int(text) if _INT.fullmatch(text) else None
    if kind is str:
        return text if _TEXT.fullmatch(text) else None
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return kind(text) if text in {member.value for member in kind} else None
    raise TypeError(f"unsupported callback field type {kind!r}")
