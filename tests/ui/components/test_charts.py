"""The volume chart's data: lines per time bucket and level."""

from __future__ import annotations

from datetime import timedelta

from app.ui.components.charts import bucket_seconds, volume_counts
from tests.ui.components.sample import NOW, frame


def test_volume_counts_lines_per_bucket_and_level() -> None:
    assert bucket_seconds(timedelta(hours=1)) == 60
    assert bucket_seconds(timedelta(hours=24)) == 1800
    counts = volume_counts(frame(), NOW - timedelta(hours=1), NOW)
    assert counts["lines"].sum() == 4
    assert set(counts["level"]) == {"error", "info", "warn"}
    assert volume_counts(frame().iloc[0:0], NOW - timedelta(hours=1), NOW).empty
