"""The log table: lines in a scrollable grid, filtered by text and level, cited lines marked."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from app.logs.models import LEVELS, LogEntry
from app.triage_models import EvidenceLine

TABLE_HEIGHT = 420
TABLE_AUTO_ROWS = 10
TABLE_LINE_CHARS = 240


def evidence_keys(
    evidence: Sequence[EvidenceLine], entries: Sequence[LogEntry]
) -> dict[tuple[int, str], int]:
    """(timestamp, line) of every log entry the model cited, with the line number it cited it as."""
    keys: dict[tuple[int, str], int] = {}
    for cited in evidence:
        for index in cited.entry_indices:
            if 0 <= index < len(entries):
                keys.setdefault((entries[index].ts_ns, entries[index].line), cited.number)
    return keys


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
