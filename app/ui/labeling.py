"""The Label page's access to the golden store and its widgets: who labels, the evidence table, the pickers.

Pages call these functions, so a test replaces them and never patches the store or SQLAlchemy. Log
lines, labeler names, example ids and summaries are untrusted: they go into ``st.dataframe``, ``st.text``
or plain widget values, never into Markdown.

The evidence of a window is kept in the session as a list of line indices (under its ``evidence`` key), not in
the table widget: the table can be searched and filtered, and the lines it does not show keep their
state. The table is a fresh widget for each filter and each outside change (the model's answer copied
in), started from the kept evidence; what the user ticks in it is folded back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
import streamlit as st

from app.config import Settings
from app.errors import InputError
from app.golden import labels as label_store
from app.golden import queue as label_queue
from app.golden.agreement import ClassKappa, Disagreement, PairKappa, pairwise_kappa, per_class_kappa
from app.golden.labels import LabelChoice, LabelRecord
from app.golden.queue import LabelWindow, QueueItem, Suggestion, WindowHead
from app.golden.schema import GoldenLog
from app.logs.models import LEVELS, detect_level, parse_rfc3339_ns
from app.taxonomy import DEFINITIONS, ROOT_CAUSES
from app.ui import cache, components

NAME_KEY = "label.name"
QUEUE_LIMIT = 50
ROW_PX = 35
# The log window shows this many lines before it scrolls (the whole window when it is shorter).
VISIBLE_LINES = 25
SUMMARY_CHARS = 400

REASONS: dict[str, str] = {
    "stale": "stale: your label's evidence lines changed on re-import; check it again",
    "disputed": "labelers disagree",
    "second_opinion": "needs a second opinion",
    "triage_run": "sent from Triage",
    "unlabeled": "not labeled yet",
}
SOURCES: dict[str, str] = {"synthetic": "synthetic", "labeled": "from Triage", "imported": "imported"}

TAXONOMY_HELP = "\n".join(
    f"- `{cause}`: {components.escape_markdown(DEFINITIONS[cause])}" for cause in ROOT_CAUSES
)


@dataclass(frozen=True)
class AgreementTables:
    """Kappa per labeler pair and per class, and how many labels they come from."""

    pairs: list[PairKappa]
    classes: list[ClassKappa]
    labels: int


@dataclass(frozen=True)
class Progress:
    """What one labeler has done so far."""

    labeled: int
    today: int
    adjudicated: int


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


def window_heads(example_ids: Sequence[str]) -> dict[str, WindowHead]:
    """Namespace and time range of these windows, by id."""
    return label_queue.window_heads(cache.get_services().engine, example_ids)


def agreement_tables() -> AgreementTables:
    """Cohen's kappa per labeler pair and per class over every current label."""
    labels = label_store.all_labels(cache.get_services().engine)
    return AgreementTables(pairwise_kappa(labels), per_class_kappa(labels), len(labels))


def progress(labeler: str, now: datetime | None = None) -> Progress:
    """How many windows ``labeler`` has labeled (in all and today, UTC) and adjudicated."""
    today = (now or datetime.now(UTC)).date()
    labels = label_store.all_labels(cache.get_services().engine)
    mine = [label for label in labels if label.labeler == labeler]
    return Progress(
        labeled=len(mine),
        today=sum(label.saved_at.astimezone(UTC).date() == today for label in mine),
        adjudicated=sum(label.adjudicated_by == labeler for label in labels),
    )


# --- how windows read ------------------------------------------------------------------------------------


def _moment(rfc3339: str) -> datetime:
    ns = parse_rfc3339_ns(rfc3339)
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)


def window_time(start: str, end: str) -> str:
    """A window's time range as people read it, e.g. '2026-03-01 12:00 → 12:05 UTC'."""
    try:
        return components.window_label(_moment(start), _moment(end))
    except ValueError:
        return f"{start} → {end}"


def window_state(item: QueueItem) -> str:
    """Where a queued window stands: not labeled yet, labeled once, disputed (with who said what unless blind)."""
    if item.reason == "disputed":
        votes = "; ".join(f"{label.labeler}: {label.root_cause}" for label in item.other_labels)
        return "disputed" + (f" ({votes})" if votes else ": labelers disagree")
    if item.reason == "second_opinion":
        if item.other_labels:
            first = item.other_labels[0]
            return f"labeled once (by {first.labeler}: {first.root_cause}), needs a second opinion"
        return "labeled once, needs a second opinion"
    state = "not labeled yet"
    if item.suggestion is not None and item.suggestion.root_cause:
        state += f" (the model said {item.suggestion.root_cause})"
    elif item.existing_label is not None:
        state += f" (imported as {item.existing_label.root_cause})"
    return state


def queue_entry(item: QueueItem) -> str:
    """One queue row as plain text: namespace, window time, where it is from, its state."""
    window = item.window
    source = SOURCES.get(window.source, window.source)
    return (
        f"{window.namespace} · {window_time(window.window_start, window.window_end)} · {source} · "
        f"{window_state(item)}"
    )


def window_caption(window: LabelWindow, state: str) -> str:
    """A window's header as plain text: namespace, time, lines, where it is from and where it stands."""
    source = SOURCES.get(window.source, window.source)
    return (
        f"{window.namespace} · {window_time(window.window_start, window.window_end)} · "
        f"{len(window.logs)} lines · {source} · {state}"
    )


def dispute_rows(disputes: Sequence[Disagreement], heads: dict[str, WindowHead]) -> list[dict[str, str]]:
    """One row per disputed window: namespace, time range, the votes, and its id."""
    rows = []
    for dispute in disputes:
        head = heads.get(dispute.example_id)
        rows.append(
            {
                "namespace": head.namespace if head else "",
                "window": window_time(head.window_start, head.window_end) if head else "",
                "votes": "; ".join(f"{who}: {cause}" for who, cause in dispute.votes.items()),
                "id": dispute.example_id,
            }
        )
    return rows


def dispute_entry(dispute: Disagreement, heads: dict[str, WindowHead]) -> str:
    """A disputed window as one line of plain text, for the picker."""
    row = dispute_rows([dispute], heads)[0]
    return f"{row['namespace']} · {row['window']} · {row['votes']}"


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
    """The window's lines as a table: index (what evidence refers to), time, level, pod, line; ★ on marked."""
    stamps = [log.ts_ns for log in logs]
    frame = pd.DataFrame(
        {
            "index": range(len(logs)),
            "time": pd.to_datetime(pd.Series(stamps, dtype="int64"), unit="ns", utc=True),
            "level": [detect_level(log.line, log.labels) for log in logs],
            "pod": [log.labels.get("pod", "") for log in logs],
            "line": [log.line for log in logs],
        }
    )
    if marked:
        chosen = set(marked)
        frame.insert(1, "model", ["★" if i in chosen else "" for i in range(len(logs))])
    return frame


def time_format(logs: Sequence[GoldenLog]) -> str:
    """The time column's format: the clock alone when the window is within one day, else the date too."""
    days = {datetime.fromtimestamp(log.ts_ns // 1_000_000_000, tz=UTC).date() for log in logs}
    return "HH:mm:ss.SSS" if len(days) <= 1 else "MM-DD HH:mm:ss.SSS"


def set_evidence(key: str, rows: Sequence[int]) -> None:
    """Replace a window's chosen evidence from outside the table (the table is redrawn from it)."""
    st.session_state[key] = sorted(set(rows))
    st.session_state[f"{key}.generation"] = st.session_state.get(f"{key}.generation", 0) + 1


def table_height(rows: int) -> int | Literal["auto"]:
    """Tall enough for ``VISIBLE_LINES`` lines; a shorter window is shown whole."""
    return ROW_PX * (VISIBLE_LINES + 1) + 3 if rows > VISIBLE_LINES else "auto"


def evidence_picker(
    logs: Sequence[GoldenLog], *, key: str, marked: Sequence[int] = (), default: Sequence[int] = ()
) -> list[int]:
    """The lines as a searchable table whose ticked rows are the evidence; returns the chosen indices."""
    if key not in st.session_state:
        st.session_state[key] = sorted(set(default))
    chosen = set(st.session_state[key])
    frame = logs_frame(logs, marked)
    search_col, level_col, count_col = st.columns([3, 3, 2], vertical_alignment="bottom")
    text = search_col.text_input("Search lines", key=f"{key}.search", placeholder="text in the line")
    present = [level for level in LEVELS if level in set(frame["level"])]
    levels = level_col.multiselect("Levels", present, key=f"{key}.levels", placeholder="all levels")
    shown = components.filter_frame(frame, text, levels, evidence_only=False)
    count_col.caption(f"{len(shown):,} of {len(frame):,} lines")
    # A new widget per filter (positions differ) and per outside change of the evidence.
    view = hashlib.sha256(repr((text, sorted(levels))).encode()).hexdigest()[:12]
    generation = st.session_state.get(f"{key}.generation", 0)
    positions = [pos for pos, index in enumerate(shown["index"]) if index in chosen]
    event = st.dataframe(
        shown,
        key=f"{key}.table.{view}.{generation}",
        on_select="rerun",
        selection_mode="multi-row",
        selection_default={"selection": {"rows": positions}} if positions else None,
        hide_index=True,
        height=table_height(len(shown)),
        column_config={
            "index": st.column_config.NumberColumn(
                "#", width="small", help="Evidence refers to lines by this index"
            ),
            "model": st.column_config.TextColumn("model", width="small", help="Lines the model cited"),
            "time": st.column_config.DatetimeColumn("time (UTC)", format=time_format(logs), width=120),
            "level": st.column_config.TextColumn("level", width=70),
            "pod": st.column_config.TextColumn("pod", width="medium"),
            "line": st.column_config.TextColumn("line", width="large"),
        },
    )
    if event is not None:
        ticked = {int(shown["index"].iloc[row]) for row in event.selection.rows if row < len(shown)}
        chosen = (chosen - set(shown["index"])) | ticked
        st.session_state[key] = sorted(chosen)
    rows = sorted(chosen)
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
        "Summary",
        key=key,
        placeholder="What failed and why, in a sentence or two",
        max_chars=SUMMARY_CHARS,
        height=90,
    )


@dataclass(frozen=True)
class LabelInputs:
    """What the pickers of one window hold."""

    evidence: list[int]
    root_cause: str | None
    severity: str | None
    summary: str


def missing_for_save(inputs: LabelInputs) -> list[str]:
    """What still has to be picked before the label can be saved, in the words of the page."""
    missing = []
    if not inputs.root_cause:
        missing.append("pick a root cause")
    if not inputs.severity:
        missing.append("pick a severity")
    if inputs.root_cause and inputs.root_cause != "healthy" and not inputs.evidence:
        missing.append("select the lines that prove it")
    return missing


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


def copied_note_key(keys: dict[str, str]) -> str:
    """Where the note on what was copied from the model's answer is kept."""
    return f"{keys['evidence']}.copied"


def use_suggestion(suggestion: Suggestion, keys: dict[str, str]) -> None:
    """Copy the model's answer into this window's pickers (a button callback, so before they render).

    The model gives no severity, may name a cause outside the taxonomy, cite no line or write more than
    a summary holds; what it leaves to do is noted for the page to say.
    """
    copied, todo = [], []
    if suggestion.root_cause in ROOT_CAUSES:
        st.session_state[keys["class"]] = suggestion.root_cause
        copied.append(f"root cause {suggestion.root_cause}")
    else:
        todo.append(f"pick a root cause (the model's {suggestion.root_cause!r} is not in the taxonomy)")
    set_evidence(keys["evidence"], suggestion.evidence)
    if suggestion.evidence:
        copied.append(f"{len(suggestion.evidence)} cited line{'s' if len(suggestion.evidence) > 1 else ''}")
    elif suggestion.root_cause != "healthy":
        todo.append("select the lines that prove it (the model cited none in this window)")
    summary = " ".join(suggestion.summary.split())
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1] + "…"
        copied.append(f"the summary, cut to {SUMMARY_CHARS} characters")
    elif summary:
        copied.append("the summary")
    st.session_state[keys["summary"]] = summary
    if not st.session_state.get(keys["severity"]):
        todo.append("pick a severity (the model does not give one)")
    st.session_state[copied_note_key(keys)] = (
        f"Copied {', '.join(copied) or 'nothing'}. " + (f"To save: {'; '.join(todo)}." if todo else "")
    ).strip()


def widget_keys(prefix: str, example_id: str) -> dict[str, str]:
    """The session keys of one window's pickers, so each window starts fresh."""
    return {part: f"{prefix}.{example_id}.{part}" for part in ("evidence", "class", "severity", "summary")}
