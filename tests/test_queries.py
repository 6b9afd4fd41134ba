"""Queries in each driver's words: `:name` parameters numbered by name, `{word}`s filled in per
dialect, moments stored as the schema's text; mistakes refused before they reach a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.store.drivers import Dialect, compile_query, moment


def _postgres(sql: str) -> tuple[str, tuple[str, ...]]:
    query = compile_query(sql, Dialect.POSTGRES, lambda n: f"${n}")
    return query.text, query.names


def test_a_name_used_twice_is_one_parameter() -> None:
    text, names = _postgres(
        "UPDATE t SET w = :worker WHERE w = :worker OR o = :own AND w = :worker"
    )
    assert text == "UPDATE t SET w = $1 WHERE w = $1 OR o = $2 AND w = $1"
    assert names == ("worker", "own")
    sqlite = compile_query("SELECT :b, :a, :b", Dialect.SQLITE, lambda n: f"?{n}")
    assert sqlite.text == "SELECT ?1, ?2, ?1"
    assert sqlite.values({"a": 1, "b": 2}) == (2, 1)


def test_string_literals_and_casts_are_left_alone() -> None:
    text, names = _postgres(
        "SELECT ':not_a_name', 'it''s :x {greatest}', k::bigint FROM t WHERE a = :a"
    )
    assert text == "SELECT ':not_a_name', 'it''s :x {greatest}', k::bigint FROM t WHERE a = $1"
    assert names == ("a",)


def test_dialect_words_are_each_dialects_own() -> None:
    sql = "SELECT {least}(:a, {greatest}(0, :b)) FROM t {skip_locked}"
    assert _postgres(sql)[0] == "SELECT LEAST($1, GREATEST(0, $2)) FROM t FOR UPDATE SKIP LOCKED"
    sqlite = compile_query(sql, Dialect.SQLITE, lambda n: f"?{n}")
    assert sqlite.text == "SELECT MIN(?1, MAX(0, ?2)) FROM t "
    with pytest.raises(ValueError, match="lock_rows"):
        _postgres("SELECT 1 {lock_rows}")


def test_a_missing_or_unknown_parameter_is_refused() -> None:
    query = compile_query("SELECT :a, :b", Dialect.POSTGRES, lambda n: f"${n}")
    with pytest.raises(TypeError, match=r"missing: \['b'\]"):
        query.values({"a": 1})
    with pytest.raises(TypeError, match=r"unknown: \['c'\]"):
        query.values({"a": 1, "b": 2, "c": 3})


def test_moments_are_stored_as_utc_text_and_read_back() -> None:
    query = compile_query("SELECT :at", Dialect.SQLITE, lambda n: f"?{n}")
    plus_two = datetime(2026, 11, 25, 14, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert query.values({"at": plus_two}) == ("2026-11-25 12:30:05",)
    assert moment("2026-11-25 12:30:05") == datetime(2026, 11, 25, 12, 30, 5, tzinfo=UTC)
