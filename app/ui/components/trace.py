"""A trace as a waterfall: each span a bar from its start offset for its duration."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.telemetry.tracing import SpanRecord
from app.ui.components.readout import format_ms


def _depths(spans: Sequence[SpanRecord]) -> dict[str, int]:
    by_id = {s.span_id: s for s in spans}
    depths: dict[str, int] = {}
    for span in spans:
        depth, parent = 0, span.parent_id
        while parent in by_id and depth < 20:
            depth, parent = depth + 1, by_id[parent].parent_id
        depths[span.span_id] = depth
    return depths


def waterfall_frame(spans: Sequence[SpanRecord]) -> pd.DataFrame:
    """One row per span: label (indented by depth), start offset and duration in ms, status."""
    if not spans:
        return pd.DataFrame(columns=["label", "name", "start_ms", "duration_ms", "status"])
    origin = min(s.start_ns for s in spans)
    depths = _depths(spans)
    rows = [
        {
            "label": f"{'  ' * depths[s.span_id]}{s.name}",
            "name": s.name,
            "start_ms": (s.start_ns - origin) / 1e6,
            "duration_ms": s.duration_ms,
            "status": s.status,
        }
        for s in sorted(spans, key=lambda s: (s.start_ns, -s.end_ns))
    ]
    return pd.DataFrame(rows)


def waterfall_figure(spans: Sequence[SpanRecord]) -> go.Figure:
    """A trace as horizontal bars: each span from its start offset for its duration."""
    rows = waterfall_frame(spans)
    colors = ["#ef4444" if status == "ERROR" else "#4f46e5" for status in rows["status"]]
    labels = [f"{i + 1:>2}. {label}" for i, label in enumerate(rows["label"])]
    fig = go.Figure(
        go.Bar(
            x=rows["duration_ms"],
            base=rows["start_ms"],
            y=labels,
            orientation="h",
            marker_color=colors,
            customdata=[
                (format_ms(start), format_ms(duration))
                for start, duration in zip(rows["start_ms"], rows["duration_ms"], strict=True)
            ],
            hovertemplate="starts at +%{customdata[0]} · takes %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(160, 34 * len(rows) + 60),
        margin={"l": 0, "r": 0, "t": 8, "b": 0},
        xaxis={"title": "ms since the trace started", "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "title": None},
        showlegend=False,
    )
    return fig


def trace_waterfall(spans: Sequence[SpanRecord], *, key: str) -> None:
    """A trace's spans as a waterfall, or a note when none were recorded here."""
    if not spans:
        st.info("No spans of this trace are recorded in this process.", icon=":material/timeline:")
        return
    st.plotly_chart(waterfall_figure(spans), key=key, config={"displaylogo": False})
