"""The pure parts of the shared widgets: text safety, time ranges, chart data, table filtering."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pandas as pd

from app.logs.frame import entries_to_frame
from app.logs.models import LogEntry
from app.telemetry.tracing import SpanRecord
from app.ui.components import (
    TimeRangeChoice,
    bucket_seconds,
    escape_markdown,
    evidence_column,
    filter_frame,
    literal,
    shorten_lines,
    volume_counts,
    waterfall_frame,
)

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


def test_literal_keeps_any_backticks_inside_the_code_span() -> None:
    text = "a `b` ``c`` ![x](http://evil/x.png) :red[y]"
    span = literal(text)
    fence = re.match(r"`+", span)
    assert fence is not None
    assert len(fence.group()) == 3  # longer than the longest run inside
    assert span == f"``` {text} ```"


def test_escape_markdown_escapes_link_and_image_syntax() -> None:
    assert escape_markdown("![x](y) *b* _i_") == r"\!\[x\]\(y\) \*b\* \_i\_"


def test_time_range_presets_end_now_and_custom_ranges_stay() -> None:
    assert TimeRangeChoice("15m").resolve(NOW) == (NOW - timedelta(minutes=15), NOW)
    custom = TimeRangeChoice(custom=(NOW - timedelta(hours=3), NOW - timedelta(hours=1)))
    assert custom.resolve(NOW) == (NOW - timedelta(hours=3), NOW - timedelta(hours=1))
    assert custom.label() == "2026-11-26 08:00 → 10:00 UTC"
    assert TimeRangeChoice("24h").label() == "last 24h"


def test_volume_counts_lines_per_bucket_and_level() -> None:
    assert bucket_seconds(timedelta(hours=1)) == 60
    assert bucket_seconds(timedelta(hours=24)) == 1800
    counts = volume_counts(frame(), NOW - timedelta(hours=1), NOW)
    assert counts["lines"].sum() == 4
    assert set(counts["level"]) == {"error", "info", "warn"}
    assert volume_counts(frame().iloc[0:0], NOW - timedelta(hours=1), NOW).empty


def test_evidence_marks_exactly_the_cited_lines() -> None:
    lines = frame()
    cited = {(int(lines.at[0, "ts_ns"]), lines.at[0, "line"]): 3}
    marks = evidence_column(lines, cited)
    assert marks.tolist()[0] == 3
    assert marks.isna().tolist() == [False, True, True, True]
    only = filter_frame(lines.assign(evidence=marks), "", [], evidence_only=True)
    assert only["line"].tolist() == ["ERROR dial tcp: connection refused"]


def test_filter_is_case_insensitive_literal_text_and_levels() -> None:
    lines = frame()
    assert filter_frame(lines, "LISTENING", [], False)["line"].tolist() == ["INFO listening"] * 2
    assert filter_frame(lines, "(", [], False).empty  # not a regex
    assert filter_frame(lines, "", ["warn", "error"], False)["level"].tolist() == ["error", "warn"]


def test_shorten_lines_cuts_long_lines_only() -> None:
    lines = pd.Series(["short", "x" * 300])
    out = shorten_lines(lines, 240)
    assert out[0] == "short"
    assert len(out[1]) == 240
    assert out[1].endswith("…")


def test_waterfall_rows_are_offsets_from_the_trace_start_indented_by_depth() -> None:
    def span(span_id: str, parent: str | None, name: str, start_ms: int, end_ms: int) -> SpanRecord:
        return SpanRecord(
            trace_id="t" * 32,
            span_id=span_id,
            parent_id=parent,
            name=name,
            start_ns=1_000_000_000 + start_ms * 1_000_000,
            end_ns=1_000_000_000 + end_ms * 1_000_000,
            status="UNSET",
            attributes={},
        )

    rows = waterfall_frame(
        [
            span("b", "a", "logs.query", 5, 20),
            span("a", None, "triage", 0, 100),
            span("c", "b", "loki", 6, 19),
        ]
    )
    assert rows["label"].tolist() == ["triage", "  logs.query", "    loki"]
    assert rows["start_ms"].tolist() == [0.0, 5.0, 6.0]
    assert rows["duration_ms"].tolist() == [100.0, 15.0, 13.0]
