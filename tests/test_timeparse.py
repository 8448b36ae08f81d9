from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.errors import InputError
from app.timeparse import parse_duration, resolve_window

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("1h", 3600), ("6H", 21600), ("2d", 172800)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_since_ends_now() -> None:
    assert resolve_window("1h", None, None, now=NOW) == (NOW - timedelta(hours=1), NOW)


def test_explicit_range_and_naive_times_are_utc() -> None:
    start, end = resolve_window(None, "2026-11-26T10:00:00", "2026-11-26T11:00:00Z", now=NOW)
    assert start == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert end == datetime(2026, 11, 26, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "start", "end", "message"),
    [
        (None, "2026-11-26T11:00:00Z", "2026-11-26T10:00:00Z", "not after start"),
        ("1h", "2026-11-26T10:00:00Z", None, "either --since or --start"),
        ("an hour", None, None, "cannot read duration"),
        (None, "yesterday", None, "cannot read time"),
        ("99999999999999999999w", None, None, "longer than any time range"),
        ("9" * 400 + "s", None, None, "longer than any time range"),
        ("3000000d", None, None, "reaches back before year 1"),
        (None, "x" * 5000, None, r"cannot read time 'x{40}\.\.\.'"),
    ],
)
def test_bad_windows_say_why(since: str | None, start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve_window(since, start, end, now=NOW)
