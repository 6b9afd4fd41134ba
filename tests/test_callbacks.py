"""The callback-data codec: what a button carries, within 64 bytes, and forged data refused."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import pytest

from bot.telegram.callbacks import MAX_BYTES, Alphabet, CallbackData


class Kind(StrEnum):
    AGAIN = "a"
    RATIO = "o"


@dataclass(frozen=True, slots=True)
class Tap(CallbackData, prefix="t"):
    kind: Kind
    job_id: int
    value: str = ""

    def __post_init__(self) -> None:
        if bool(self.value) != (self.kind is Kind.RATIO):
            raise ValueError("a ratio, and only a ratio, carries a value")


def test_packs_and_reads_back() -> None:
    tap = Tap(Kind.RATIO, 123456789012, "16:9")
    assert tap.pack() == "t|o|123456789012|16:9"
    assert Tap.unpack(tap.pack()) == tap
    assert Tap.unpack("t|a|7|") == Tap(Kind.AGAIN, 7)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "t|a|7",  # a field missing
        "t|a|7||",  # one too many
        "x|a|7|",  # another prefix
        "t|z|7|",  # no such kind
        "t|a|seven|",  # not a number
        "t|a|1234567890123456789|",  # a longer id than any database gives
        "t|a|7|16:9",  # a value where none belongs (refused by the class itself)
        "t|o|7|<b>",  # text no button of ours carries
        "t|o|7|" + "9" * 70,  # over Telegram's 64 bytes
    ],
)
def test_forged_data_is_refused(data: str | None) -> None:
    assert Tap.unpack(data) is None


def test_data_that_would_not_fit_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        Tap(Kind.RATIO, 1, "9" * MAX_BYTES).pack()
    with pytest.raises(ValueError, match="cannot go into"):
        Tap(Kind.RATIO, 1, "a|b").pack()


def test_its_pattern_routes_only_its_own_prefix() -> None:
    assert re.match(Tap.pattern(), "t|a|7|")
    assert not re.match(Tap.pattern(), "tt|a|7|")


@dataclass(frozen=True, slots=True)
class Pick(CallbackData, prefix="p"):
    model: Annotated[str, Alphabet(re.compile(r"[\w.\-/]+"))]
    page: int | None = None


def test_an_optional_last_field_is_left_off_when_none() -> None:
    assert Pick("google/gemini").pack() == "p|google/gemini"
    assert Pick("google/gemini", 2).pack() == "p|google/gemini|2"
    assert Pick.unpack("p|google/gemini") == Pick("google/gemini")
    assert Pick.unpack("p|google/gemini|2") == Pick("google/gemini", 2)


@pytest.mark.parametrize("data", ["p", "p|", "p|a:b", "p|g/m|", "p|g/m|x", "p|g/m|2|3"])
def test_a_fields_own_alphabet_and_optional_field_stay_strict(data: str) -> None:
    assert Pick.unpack(data) is None


def test_a_slash_is_only_where_a_field_allows_it() -> None:
    assert Tap.unpack("t|o|7|a/b") is None
    with pytest.raises(ValueError, match="cannot go into"):
        Tap(Kind.RATIO, 1, "a/b").pack()
