"""The trace waterfall's rows: offsets from the trace's start, indented by depth."""

from __future__ import annotations

from app.telemetry.tracing import SpanRecord
from app.ui.components.trace import waterfall_figure, waterfall_frame


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


def test_the_waterfall_tells_durations_in_human_units() -> None:
    span = SpanRecord(
        trace_id="t" * 32,
        span_id="a",
        parent_id=None,
        name="chat tiny",
        start_ns=0,
        end_ns=72_400_000_000,
        status="UNSET",
        attributes={},
    )
    bar = waterfall_figure([span]).data[0]
    assert [tuple(row) for row in bar.customdata] == [("0.0 ms", "1 min 12 s")]
