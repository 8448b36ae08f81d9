"""Shared widgets of the dashboard: time range, errors, latency, charts and the log table.

Untrusted text (log lines, label values, model output, error bodies) is shown with ``st.text``,
``st.code`` or ``st.dataframe``; where it must sit in Markdown (an error box's body) it goes in as a
code span (``literal``), which Markdown shows verbatim.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.errors import ConfigError, LogTriageError, PromptError, StoreError
from app.llm.models import ModelHealth
from app.logs.models import LEVELS
from app.telemetry.tracing import SpanRecord
from app.triage import error_kind

log = logging.getLogger(__name__)

PRESETS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
}
CUSTOM = "Custom"

LEVEL_COLORS: dict[str, str] = {
    "critical": "#991b1b",
    "error": "#ef4444",
    "warn": "#f59e0b",
    "info": "#3b82f6",
    "debug": "#94a3b8",
    "unknown": "#cbd5e1",
}

ERROR_TITLES: dict[str, str] = {
    "loki_connect": "Cannot reach Loki",
    "loki_timeout": "Loki did not answer in time",
    "loki_http": "Loki refused the query",
    "log_source": "The log source failed",
    "llm_connect": "Cannot reach the model server",
    "llm_timeout": "The model did not answer in time",
    "llm_http": "The model server answered with an error",
    "invalid_output": "The model's answer is not a valid root-cause analysis",
    "cancelled": "Cancelled",
    "llm": "The model failed",
    "input": "Check the input",
    "config": "Configuration problem",
    "prompt": "The prompt failed",
    "store": "The database failed",
    "other": "Something went wrong",
}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$&:;\"'=^%@,/?])")

# Bucket widths for the volume chart, smallest first; the chart aims at about this many bars.
_BUCKETS = (1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 7200)
_TARGET_BARS = 60
TABLE_HEIGHT = 420
TABLE_AUTO_ROWS = 10
TABLE_LINE_CHARS = 240


# --- text ------------------------------------------------------------------------------------


def escape_markdown(text: str) -> str:
    """``text`` with every Markdown-significant character escaped and whitespace collapsed.

    For trusted text (settings, taxonomy ids) that must not be formatted by accident. Untrusted text
    goes through ``literal``: escapes do not stop GFM from turning a bare URL into a link.
    """
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def literal(text: str) -> str:
    """``text`` as a Markdown code span: shown verbatim, never linked, formatted or turned into emoji."""
    body = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    # A space on each side keeps a leading or trailing backtick from merging with the fence; CommonMark
    # strips one such space from each side again.
    return f"{fence} {body} {fence}"


def error_title(kind: str) -> str:
    """The heading shown above an error of this kind."""
    return ERROR_TITLES.get(kind, ERROR_TITLES["other"])


def kind_of(exc: BaseException) -> str:
    """The error kind of an exception, refined for the dashboard's headings."""
    kind = error_kind(exc)
    if kind != "other":
        return kind
    if isinstance(exc, ConfigError):
        return "config"
    if isinstance(exc, PromptError):
        return "prompt"
    if isinstance(exc, StoreError):
        return "store"
    return "other"


def error_box(message: str, kind: str = "other") -> None:
    """An error alert: a heading for the kind of failure and the message as plain text."""
    st.error(literal(message), icon=":material/error:", title=error_title(kind))


def show_error(exc: BaseException) -> None:
    """An error alert for an exception: LogTriageErrors by their user message, others by type."""
    if isinstance(exc, LogTriageError):
        error_box(exc.user_message(), kind_of(exc))
    else:
        error_box(f"{type(exc).__name__}: {exc}", "other")


def cancel_button(cancel: threading.Event, *, key: str, label: str = "Cancel") -> None:
    """A button that sets ``cancel``; disabled once it is set."""
    st.button(label, key=key, icon=":material/stop_circle:", on_click=cancel.set, disabled=cancel.is_set())


def model_down_box(health: ModelHealth, *, local: bool) -> None:
    """An error alert for a model endpoint that is not healthy, saying how to start local ones."""
    kind = "llm_connect" if health.status == "unreachable" else "llm"
    hint = " (the local tiny models run with `logtriage serve-models` or `logtriage demo`)" if local else ""
    error_box(f"{health.name}: {health.detail}{hint}", kind)


@contextmanager
def error_boundary(what: str) -> Generator[None]:
    """Show an error in this section instead of a traceback, so the rest of the page keeps working."""
    try:
        yield
    except LogTriageError as exc:
        show_error(exc)
    except Exception as exc:
        # Streamlit's rerun/stop signals are BaseExceptions and pass through untouched.
        log.exception("unexpected error while %s", what)
        show_error(exc)


# --- time range ---------------------------------------------------------------------------------


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
            start, end = self.custom
            return f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"
        return f"last {self.preset}"


def floor_minute(moment: datetime) -> datetime:
    """``moment`` rounded down to the minute (keeps cache keys stable within a minute)."""
    return moment.replace(second=0, microsecond=0)


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
        "From (UTC)", value=now - timedelta(hours=1), key=f"{key}.start", format="YYYY-MM-DD"
    )
    end = right.datetime_input("To (UTC)", value=now, key=f"{key}.end", format="YYYY-MM-DD")
    start = (start or now - timedelta(hours=1)).replace(tzinfo=UTC)
    end = (end or now).replace(tzinfo=UTC)
    return TimeRangeChoice(custom=(start, end))


# --- latency ---------------------------------------------------------------------------------------


def format_ms(value: float | None) -> str:
    """Milliseconds for people: '—', '850 ms' or '2.4 s'."""
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value < 1000 else f"{value / 1000:,.1f} s"


def latency_readout(
    elapsed_ms: float | None, ttft_ms: float | None, tokens_per_s: float | None, tokens: int | None
) -> None:
    """Elapsed time, time to first token, tokens/s and tokens, side by side."""
    cols = st.columns(4)
    cols[0].metric("Elapsed", format_ms(elapsed_ms))
    cols[1].metric("Time to first token", format_ms(ttft_ms))
    cols[2].metric("Tokens/s", "—" if not tokens_per_s else f"{tokens_per_s:,.1f}")
    cols[3].metric("Tokens", "—" if tokens is None else f"{tokens:,}")


# --- charts --------------------------------------------------------------------------------------


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
            customdata=list(zip(rows["start_ms"], rows["duration_ms"], strict=True)),
            hovertemplate="start +%{customdata[0]:,.1f} ms · %{customdata[1]:,.1f} ms<extra></extra>",
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


# --- the log table ------------------------------------------------------------------------------


def evidence_column(frame: pd.DataFrame, evidence: dict[tuple[int, str], int] | None) -> pd.Series:
    """Per row, the prompt line number the model cited it as (missing when not cited)."""
    marks = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    if not evidence:
        return marks
    stamps = {ts for ts, _ in evidence}
    candidates = frame.index[frame["ts_ns"].isin(stamps)]
    for idx in candidates:
        number = evidence.get((int(frame.at[idx, "ts_ns"]), frame.at[idx, "line"]))
        if number:
            marks.at[idx] = number
    return marks


def shorten_lines(lines: pd.Series, limit: int) -> pd.Series:
    """Lines longer than ``limit`` characters cut to ``limit`` with a trailing '…'."""
    long = lines.str.len() > limit
    if not long.any():
        return lines
    return lines.where(~long, lines.str.slice(0, limit - 1) + "…")


def filter_frame(frame: pd.DataFrame, text: str, levels: Sequence[str], evidence_only: bool) -> pd.DataFrame:
    """Rows whose line contains ``text`` (case-insensitive), of ``levels``, optionally cited only."""
    mask = pd.Series(True, index=frame.index)
    if text:
        mask &= frame["line"].str.contains(text, case=False, regex=False)
    if levels:
        mask &= frame["level"].isin(list(levels))
    if evidence_only and "evidence" in frame:
        mask &= frame["evidence"].notna()
    return frame[mask]


def log_table(frame: pd.DataFrame, *, key: str, evidence: dict[tuple[int, str], int] | None = None) -> None:
    """The lines as a scrollable, filterable table; a clicked row shows its full line below."""
    shown = frame.assign(evidence=evidence_column(frame, evidence))
    st.fragment(_log_table_body)(shown, key)


def _log_table_body(frame: pd.DataFrame, key: str) -> None:
    has_evidence = bool(frame["evidence"].notna().any())
    left, middle, right = st.columns([3, 3, 2], vertical_alignment="bottom")
    text = left.text_input("Filter lines", key=f"{key}.text", placeholder="text in the line")
    present = [level for level in LEVELS if level in set(frame["level"])]
    levels = middle.multiselect("Levels", present, key=f"{key}.levels", placeholder="all levels")
    evidence_only = right.toggle("Evidence only", key=f"{key}.evidence", disabled=not has_evidence)
    shown = filter_frame(frame, text, levels, evidence_only)
    st.caption(f"{len(shown):,} of {len(frame):,} lines")
    columns = ["evidence", "time", "pod", "container", "level", "line"]
    if not has_evidence:
        columns.remove("evidence")
    # Only the shown columns, and lines cut for the grid, go to the browser: that is most of the bytes of
    # a 5,000-line table. A selected row shows its whole line below.
    table = shown[columns].assign(line=shorten_lines(shown["line"], TABLE_LINE_CHARS))
    event = st.dataframe(
        table,
        key=f"{key}.table",
        hide_index=True,
        height=TABLE_HEIGHT if len(shown) > TABLE_AUTO_ROWS else "auto",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "evidence": st.column_config.NumberColumn(
                "cited",
                help="The prompt line number the model cited",
                format="★ %d",
                width="small",
                pinned=True,
            ),
            "time": st.column_config.DatetimeColumn(
                "time (UTC)", format="YYYY-MM-DD HH:mm:ss.SSS", width=190
            ),
            "pod": st.column_config.TextColumn("pod", width="medium"),
            "container": st.column_config.TextColumn("container", width="small"),
            "level": st.column_config.TextColumn("level", width=80),
            "line": st.column_config.TextColumn("line", width="large"),
        },
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        row = shown.iloc[rows[0]]
        st.code(row["line"], language=None, wrap_lines=True)
