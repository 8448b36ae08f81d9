"""The log volume chart: lines over time as stacked bars, one colour per level."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.logs.models import LEVELS

LEVEL_COLORS: dict[str, str] = {
    "critical": "#991b1b",
    "error": "#ef4444",
    "warn": "#f59e0b",
    "info": "#3b82f6",
    "debug": "#94a3b8",
    "unknown": "#cbd5e1",
}

# Bucket widths for the volume chart, smallest first; the chart aims at about this many bars.
_BUCKETS = (1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200)
_TARGET_BARS = 60


def bucket_seconds(span: timedelta) -> int:
    """A bar width (seconds) giving about 60 bars over ``span``."""
    wanted = span.total_seconds() / _TARGET_BARS
    for width in _BUCKETS:
        if width >= wanted:
            return width
    return _BUCKETS[-1]


def volume_counts(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Lines per time bucket and level: columns bucket, level, lines."""
    width = bucket_seconds(end - start)
    if frame.empty:
        return pd.DataFrame({"bucket": pd.Series(dtype="datetime64[ns, UTC]"), "level": [], "lines": []})
    buckets = frame["time"].dt.floor(f"{width}s")
    return (
        pd.DataFrame({"bucket": buckets, "level": frame["level"], "one": 1})
        .groupby(["bucket", "level"], observed=True)
        .agg(lines=("one", "sum"))
        .reset_index()
    )


def volume_figure(frame: pd.DataFrame, start: datetime, end: datetime) -> go.Figure:
    """Stacked bars of lines over time, one colour per level (errors on top of the stack)."""
    counts = volume_counts(frame, start, end)
    width_ms = bucket_seconds(end - start) * 1000
    fig = go.Figure()
    for level in reversed(LEVELS):
        part = counts[counts["level"] == level]
        if part.empty:
            continue
        fig.add_bar(
            x=part["bucket"],
            y=part["lines"],
            name=level,
            marker_color=LEVEL_COLORS[level],
            width=width_ms * 0.9,
            offset=0,
            hovertemplate="%{x|%H:%M:%S} · %{y} " + level + "<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        height=200,
        margin={"l": 0, "r": 0, "t": 8, "b": 0},
        showlegend=True,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "traceorder": "reversed"},
        xaxis={"range": [start, end], "title": None},
        yaxis={"title": "lines"},
        bargap=0.05,
    )
    return fig


def volume_chart(frame: pd.DataFrame, start: datetime, end: datetime, *, key: str) -> None:
    """The log volume over the window, coloured by level."""
    st.plotly_chart(volume_figure(frame, start, end), key=key, config={"displaylogo": False})
