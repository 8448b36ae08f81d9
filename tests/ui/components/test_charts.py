"""The volume chart's data: lines per time bucket and level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from app.logs.frame import entries_to_frame
from app.logs.models import LogEntry
from app.ui.components.charts import bucket_seconds, volume_counts

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)


def frame() -> pd.DataFrame:
    base = int(NOW.timestamp()) * 1_000_000_000
    lines = ["ERROR dial tcp: connection refused", "INFO listening", "WARN retrying", "INFO listening"]
    entries = [
        LogEntry(
            ts_ns=base - (len(lines) - i) * 60_000_000_000, labels={"namespace": "a", "pod": "p"}, line=line
        )
        for i, line in enumerate(lines)
    ]
    return entries_to_frame(entries)


def test_volume_counts_lines_per_bucket_and_level() -> None:
    assert bucket_seconds(timedelta(hours=1)) == 60
    assert bucket_seconds(timedelta(hours=24)) == 1800
    counts = volume_counts(frame(), NOW - timedelta(hours=1), NOW)
    assert counts["lines"].sum() == 4
    assert set(counts["level"]) == {"error", "info", "warn"}
    assert volume_counts(frame().iloc[0:0], NOW - timedelta(hours=1), NOW).empty
