"""The time-range picker: presets relative to now, or a custom UTC range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import streamlit as st

PRESETS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
}
CUSTOM = "Custom"


@dataclass(frozen=True)
class TimeRangeChoice:
    """A preset (relative to now) or a custom absolute range, as picked."""

    preset: str = "1h"
    custom: tuple[datetime, datetime] | None = None

    def resolve(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The concrete [start, end) in UTC; a preset ends at ``now``."""
        if self.custom is not None:
            return self.custom
        end = now or datetime.now(UTC)
        return end - PRESETS[self.preset], end

    def label(self) -> str:
        """How the range reads, e.g. 'last 1h' or '2026-11-26 10:00 → 2026-11-26 11:00 UTC'."""
        if self.custom is not None:
            return window_label(*self.custom)
        return f"last {self.preset}"


def window_label(start: datetime, end: datetime) -> str:
    """An absolute window as people read it, e.g. '2026-11-26 10:00 → 2026-11-26 11:00 UTC'."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    seconds = start.second or end.second
    stamp = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    if start.date() == end.date():
        return f"{start.strftime(stamp)} → {end.strftime(stamp.removeprefix('%Y-%m-%d '))} UTC"
    return f"{start.strftime(stamp)} → {end.strftime(stamp)} UTC"


def floor_minute(moment: datetime) -> datetime:
    """``moment`` rounded down to the minute (keeps cache keys stable within a minute)."""
    return moment.replace(second=0, microsecond=0)


def set_custom_range(key: str, start: datetime, end: datetime) -> None:
    """Make the picker under ``key`` show a custom range (call before it renders, e.g. from a link)."""
    st.session_state[f"{key}.preset"] = CUSTOM
    st.session_state[f"{key}.start"] = start.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    st.session_state[f"{key}.end"] = end.astimezone(UTC).replace(tzinfo=None, microsecond=0)


def time_range_picker(key: str) -> TimeRangeChoice:
    """Presets 15m/1h/6h/24h or a custom UTC range."""
    choice = st.segmented_control(
        "Time range", [*PRESETS, CUSTOM], default="1h", required=True, key=f"{key}.preset"
    )
    if choice != CUSTOM:
        return TimeRangeChoice(preset=str(choice))
    now = floor_minute(datetime.now(UTC)).replace(tzinfo=None)
    left, right = st.columns(2)
    start = left.datetime_input(
        "From (UTC)",
        value=None if f"{key}.start" in st.session_state else now - timedelta(hours=1),
        key=f"{key}.start",
        format="YYYY-MM-DD",
        step=timedelta(minutes=1),
    )
    end = right.datetime_input(
        "To (UTC)",
        value=None if f"{key}.end" in st.session_state else now,
        key=f"{key}.end",
        format="YYYY-MM-DD",
        step=timedelta(minutes=1),
    )
    start = (start or now - timedelta(hours=1)).replace(tzinfo=UTC)
    end = (end or now).replace(tzinfo=UTC)
    return TimeRangeChoice(custom=(start, end))
