"""The time-range picker's ranges and how windows read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.ui.components.time_range import TimeRangeChoice, floor_minute, window_label

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)


def test_time_range_presets_end_now_and_custom_ranges_stay() -> None:
    assert TimeRangeChoice("15m").resolve(NOW) == (NOW - timedelta(minutes=15), NOW)
    custom = TimeRangeChoice(custom=(NOW - timedelta(hours=3), NOW - timedelta(hours=1)))
    assert custom.resolve(NOW) == (NOW - timedelta(hours=3), NOW - timedelta(hours=1))
    assert custom.label() == "2026-11-26 08:00 → 10:00 UTC"
    assert TimeRangeChoice("24h").label() == "last 24h"


def test_windows_read_with_seconds_only_when_they_have_them_and_dates_only_when_they_differ() -> None:
    assert window_label(NOW, NOW + timedelta(minutes=5)) == "2026-11-26 11:00 → 11:05 UTC"
    assert window_label(NOW, NOW + timedelta(seconds=90)) == "2026-11-26 11:00:00 → 11:01:30 UTC"
    assert window_label(NOW, NOW + timedelta(days=1)) == "2026-11-26 11:00 → 2026-11-27 11:00 UTC"
    other_zone = NOW.astimezone(datetime.now().astimezone().tzinfo)
    assert window_label(other_zone, NOW + timedelta(hours=1)) == "2026-11-26 11:00 → 12:00 UTC"


def test_floor_minute_drops_seconds() -> None:
    assert floor_minute(NOW.replace(second=42, microsecond=7)) == NOW
