"""The Label page's access to the golden store and its widgets: who labels, the evidence table, the pickers.

Pages call these functions, so a test replaces them and never patches the store or SQLAlchemy. Log
lines, labeler names and summaries are untrusted: they go into ``st.dataframe``, ``st.text`` or plain
widget values, never into Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app.config import Settings
from app.errors import InputError
from app.golden import labels as label_store
from app.golden import queue as label_queue
from app.golden.agreement import ClassKappa, Disagreement, PairKappa, pairwise_kappa, per_class_kappa
from app.golden.labels import LabelChoice, LabelRecord
from app.golden.queue import LabelWindow, QueueItem, Suggestion
from app.golden.schema import GoldenLog
from app.taxonomy import DEFINITIONS, ROOT_CAUSES
from app.ui import cache, components

NAME_KEY = "label.name"
QUEUE_LIMIT = 50
LOG_TABLE_HEIGHT = 420

REASONS: dict[str, str] = {
    "stale": "stale: your label's evidence lines changed on re-import; check it again",
    "disputed": "labelers disagree",
    "second_opinion": "needs a second opinion",
    "triage_run": "sent from Triage",
    "unlabeled": "not labeled yet",
}

TAXONOMY_HELP = "\n".join(
    f"- `{cause}`: {components.escape_markdown(DEFINITIONS[cause])}" for cause in ROOT_CAUSES
)


@dataclass(frozen=True)
class AgreementTables:
    """Kappa per labeler pair and per class, and how many labels they come from."""

    pairs: list[PairKappa]
    classes: list[ClassKappa]
    labels: int


# --- the store, as the page uses it ---------------------------------------------------------------------


def labeling_queue(labeler: str, *, blind: bool) -> list[QueueItem]:
    """The windows waiting for ``labeler`` (blind: without the model's answer and others' labels)."""
    return label_queue.labeling_queue(cache.get_services().engine, labeler, blind=blind, limit=QUEUE_LIMIT)


def _choice(
    root_cause: str | None, evidence: Sequence[int], severity: str | None, summary: str
) -> LabelChoice:
    if not root_cause:
        raise InputError("pick a root cause first")
    if not severity:
        raise InputError("pick a severity first")
    return LabelChoice(
        root_cause=root_cause, evidence=list(evidence), severity=severity, summary=summary.strip()
    )


def save_label(
    example_id: str,
    labeler: str,
    root_cause: str | None,
    evidence: Sequence[int],
    severity: str | None,
    summary: str,
) -> LabelRecord:
    """Save this labeler's label of a window; InputError says what is missing or wrong."""
    choice = _choice(root_cause, evidence, severity, summary)
    return label_store.save_label(
        cache.get_services().engine,
        example_id,
        labeler,
        choice.root_cause,
        choice.evidence,
        choice.severity,
        choice.summary,
    )


def adjudicate(
    example_id: str,
    adjudicator: str,
    root_cause: str | None,
    evidence: Sequence[int],
    severity: str | None,
    summary: str,
) -> LabelRecord:
    """Settle a disputed window's label, credited to ``adjudicator``."""
    choice = _choice(root_cause, evidence, severity, summary)
    return label_store.adjudicate(cache.get_services().engine, example_id, choice, adjudicator=adjudicator)


def label_window(example_id: str) -> LabelWindow:
    """One stored window's logs."""
    return label_queue.label_window(cache.get_services().engine, example_id)


def labels_for(example_id: str) -> list[LabelRecord]:
    """The current labels of one window."""
    return label_store.labels_for(cache.get_services().engine, example_id)


def disagreements() -> list[Disagreement]:
    """The windows whose labelers disagree and that nobody has adjudicated."""
    return label_store.disagreements(cache.get_services().engine)


def agreement_tables() -> AgreementTables:
    """Cohen's kappa per labeler pair and per class over every current label."""
    labels = label_store.all_labels(cache.get_services().engine)
    return AgreementTables(pairwise_kappa(labels), per_class_kappa(labels), len(labels))


# --- widgets ---------------------------------------------------------------------------------------------


def labeler_identity(settings: Settings) -> str | None:
    """Who is labeling: the gateway's auth header when present, else the name typed here (kept per session)."""
    header = st.context.headers.get(settings.auth_user_header)
    if header and header.strip():
        st.text(f"Labeling as {' '.join(header.split())} (signed in)")
        return " ".join(header.split())
    name = st.text_input(
        "Your name",
        key=NAME_KEY,
        placeholder="who is labeling",
        max_chars=label_store.MAX_LABELER_CHARS,
        help="Saved with every label, so agreement between labelers can be measured.",
    )
    return " ".join(name.split()) or None


def logs_frame(logs: Sequence[GoldenLog], marked: Sequence[int] = ()) -> pd.DataFrame:
    """The window's lines as a table: index (what evidence refers to), time, pod, line; ★ on marked lines."""
    frame = pd.DataFrame(
        {
            "index": range(len(logs)),
            "time": [log.ts for log in logs],
            "pod": [log.labels.get("pod", "") for log in logs],
            "line": [log.line for log in logs],
        }
    )
    if marked:
        chosen = set(marked)
        frame.insert(1, "model", ["★" if i in chosen else "" for i in range(len(logs))])
    return frame


def evidence_picker(
    logs: Sequence[GoldenLog], *, key: str, marked: Sequence[int] = (), default: Sequence[int] = ()
) -> list[int]:
    """The log lines as a table whose selected rows are the evidence; returns the selected indices."""
    event = st.dataframe(
        logs_frame(logs, marked),
        key=key,
        on_select="rerun",
        selection_mode="multi-row",
        selection_default={"selection": {"rows": list(default)}} if default else None,
        hide_index=True,
        height=LOG_TABLE_HEIGHT if len(logs) > 10 else "auto",
        column_config={
            "index": st.column_config.NumberColumn(
                "#", width="small", help="Evidence refers to lines by this index"
            ),
            "model": st.column_config.TextColumn("model", width="small", help="Lines the model cited"),
            "time": st.column_config.TextColumn("time", width="medium"),
            "pod": st.column_config.TextColumn("pod", width="medium"),
            "line": st.column_config.TextColumn("line", width="large"),
        },
    )
    rows = sorted(int(row) for row in event.selection.rows) if event is not None else []
    st.text(f"Evidence: {', '.join(f'#{row}' for row in rows)}" if rows else "Evidence: none selected")
    if rows:
        # Long lines are cut off in the table; the chosen ones are shown whole.
        st.code("\n".join(f"#{row}  {logs[row].line}" for row in rows), language=None, wrap_lines=True)
    return rows


def class_picker(key: str) -> str | None:
    """The root-cause picker, with every definition as help and the chosen one's below."""
    cause = st.selectbox(
        "Root cause", ROOT_CAUSES, index=None, key=key, placeholder="Pick the root cause", help=TAXONOMY_HELP
    )
    if cause:
        st.caption(components.escape_markdown(DEFINITIONS[cause]))
    return cause


def severity_picker(key: str) -> str | None:
    """Info, warning or critical."""
    return st.radio("Severity", label_store.SEVERITIES, index=None, key=key, horizontal=True)


def summary_box(key: str) -> str:
    """One or two sentences on what failed and why."""
    return st.text_area(
        "Summary", key=key, placeholder="What failed and why, in a sentence or two", max_chars=400, height=90
    )


@dataclass(frozen=True)
class LabelInputs:
    """What the pickers of one window hold."""

    evidence: list[int]
    root_cause: str | None
    severity: str | None
    summary: str


def label_inputs(
    logs: Sequence[GoldenLog],
    keys: dict[str, str],
    *,
    marked: Sequence[int] = (),
    default: Sequence[int] = (),
) -> LabelInputs:
    """The evidence table, root cause, severity and summary of one window (keys from ``widget_keys``)."""
    evidence = evidence_picker(logs, key=keys["evidence"], marked=marked, default=default)
    left, right = st.columns([3, 2])
    with left:
        root_cause = class_picker(keys["class"])
    with right:
        severity = severity_picker(keys["severity"])
    return LabelInputs(evidence, root_cause, severity, summary_box(keys["summary"]))


def labels_table(labels: Sequence[LabelRecord]) -> None:
    """Current labels as a table (untrusted names and summaries stay plain text)."""
    st.dataframe(
        pd.DataFrame(
            {
                "labeler": [label.adjudicated_by or label.labeler for label in labels],
                "root cause": [label.root_cause for label in labels],
                "severity": [label.severity for label in labels],
                "evidence": [", ".join(f"#{i}" for i in label.evidence) for label in labels],
                "summary": [label.summary for label in labels],
                "revision": [label.revision for label in labels],
            }
        ),
        hide_index=True,
    )


def suggestion_panel(suggestion: Suggestion) -> None:
    """The model's answer for a window sent from Triage (only outside blind mode)."""
    with st.container(border=True):
        st.caption("The model's answer (from Triage)")
        confidence = f", confidence {suggestion.confidence:.0%}" if suggestion.confidence is not None else ""
        st.text(f"{suggestion.root_cause}{confidence} · {suggestion.model} · {suggestion.prompt}")
        st.text(suggestion.summary)
        if suggestion.evidence:
            st.text(f"Cited lines: {', '.join(f'#{i}' for i in suggestion.evidence)} (★ in the table)")


def use_suggestion(suggestion: Suggestion, keys: dict[str, str]) -> None:
    """Copy the model's answer into this window's pickers (a button callback, so before they render)."""
    if suggestion.root_cause in ROOT_CAUSES:
        st.session_state[keys["class"]] = suggestion.root_cause
    st.session_state[keys["evidence"]] = {
        "selection": {"rows": list(suggestion.evidence), "columns": [], "cells": []}
    }
    st.session_state[keys["summary"]] = suggestion.summary


def widget_keys(prefix: str, example_id: str) -> dict[str, str]:
    """The session keys of one window's pickers, so each window starts fresh."""
    return {part: f"{prefix}.{example_id}.{part}" for part in ("evidence", "class", "severity", "summary")}


def window_caption(window: LabelWindow) -> str:
    """Where a window comes from, as plain text."""
    return f"{window.namespace} · {window.window_start} → {window.window_end} · {window.source} · {len(window.logs)} lines"
