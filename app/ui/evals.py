"""The Evals and Compare pages' access to the library, their background run, charts and tables.

Pages call these functions and nothing below them, so a page test replaces them. Untrusted text (log
lines, model output, error messages, example ids) is shown with ``st.text``, ``st.code`` or
``st.dataframe``, never as Markdown. The running eval lives in ``st.session_state[STATE_KEY]``, which
only this module reads or writes; its thread never calls Streamlit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.errors import LogTriageError
from app.evals.compare import (
    Comparison,
    ExampleOutcome,
    RunColumn,
    aligned,
    compare_runs,
    example_outcomes,
    shared_keys,
)
from app.evals.metrics import ConfusionMatrix, ItemResult, RunMetrics
from app.evals.runner import (
    BASELINE_MODEL_NAME,
    EvalRequest,
    RunHeader,
    get_run,
    list_runs,
    load_items,
    load_run_items,
)
from app.golden.jsonl import load_golden_dir
from app.golden.schema import GoldenExample
from app.logs.models import format_rfc3339_ns
from app.taxonomy import ROOT_CAUSES
from app.ui import cache, components

log = logging.getLogger(__name__)

STATE_KEY = "evals.live_run"
POLL_S = 0.5
GOLDEN_TTL_S = 60
STATUS_COLORS = {"completed": "#10b981", "running": "#f59e0b", "cancelled": "#94a3b8", "failed": "#ef4444"}


# --- reads ---------------------------------------------------------------------------------------------


def eval_runs(limit: int = 200) -> list[RunHeader]:
    """The newest runs' headers."""
    return list_runs(cache.get_services().engine, limit)


def run_header(run_id: str) -> RunHeader:
    """One run's header."""
    return get_run(cache.get_services().engine, run_id)


def _version(header: RunHeader) -> str:
    # Items of a run only change while it runs; its status and end time say whether they may have.
    return f"{header.status}:{header.ended_at}"


@st.cache_data(show_spinner=False, max_entries=32)
def _items(run_id: str, version: str) -> list[ItemResult]:
    return load_items(cache.get_services().engine, run_id)


def run_items(header: RunHeader) -> list[ItemResult]:
    """A run's item results (cached until the run changes)."""
    return _items(header.id, _version(header))


@st.cache_data(show_spinner=False, max_entries=16)
def _comparison(run_ids: tuple[str, ...], versions: tuple[str, ...]) -> Comparison:
    engine = cache.get_services().engine
    return compare_runs([load_run_items(engine, run_id) for run_id in run_ids])


def comparison(headers: Sequence[RunHeader]) -> Comparison:
    """The runs compared on their shared items (the first is A)."""
    return _comparison(tuple(h.id for h in headers), tuple(_version(h) for h in headers))


@st.cache_data(show_spinner=False, max_entries=16)
def _pair_outcomes(a_id: str, b_id: str, versions: tuple[str, str]) -> list[ExampleOutcome]:
    engine = cache.get_services().engine
    return example_outcomes(load_run_items(engine, a_id), load_run_items(engine, b_id))


@st.cache_data(show_spinner=False, max_entries=16)
def _shared_items(run_ids: tuple[str, ...], versions: tuple[str, ...]) -> list[list[ItemResult]]:
    engine = cache.get_services().engine
    runs = [load_run_items(engine, run_id) for run_id in run_ids]
    keys = shared_keys(runs)
    return [aligned(run, keys) for run in runs]


def shared_items(headers: Sequence[RunHeader]) -> list[list[ItemResult]]:
    """Each run's results on the items all of them share, in the same order."""
    return _shared_items(tuple(h.id for h in headers), tuple(_version(h) for h in headers))


def pair_outcomes(a: RunHeader, b: RunHeader) -> list[ExampleOutcome]:
    """Every example two runs share, with both predictions and its case."""
    return _pair_outcomes(a.id, b.id, (_version(a), _version(b)))


@st.cache_data(ttl=GOLDEN_TTL_S, show_spinner=False)
def golden_examples() -> dict[str, GoldenExample]:
    """The golden set by example id."""
    return {example.id: example for example in load_golden_dir(cache.get_app_settings().golden_dir)}


def model_names() -> list[str]:
    """The baseline, then the configured models."""
    return [BASELINE_MODEL_NAME, *(model.name for model in cache.models())]


def prompt_refs() -> list[str]:
    """Prompt versions, current files first (newest first among the rest)."""
    versions = cache.prompt_versions()
    current = [v.ref for v in versions if v.is_current]
    older = [v.ref for v in reversed(versions) if not v.is_current]
    return current + older


# --- the run in the background -----------------------------------------------------------------------------


@dataclass
class LiveEval:
    """A run started from the dashboard: its thread, cancel switch and progress."""

    request: EvalRequest
    cancel: threading.Event = field(default_factory=threading.Event)
    done: int = 0
    total: int = 0
    run_id: str | None = None
    header: RunHeader | None = None
    failure: str | None = None
    failure_kind: str = "other"
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    announced: bool = False

    @property
    def active(self) -> bool:
        """Whether the run is still going."""
        return self.finished is None

    def on_progress(self, done: int, total: int) -> None:
        """The runner's progress callback (called from the run's thread)."""
        self.done, self.total = done, total


def _work(live: LiveEval) -> None:
    try:
        runner = cache.get_services().eval_runner
        header = runner.start(live.request)
        live.run_id, live.total = header.id, len(header.item_ids)
        live.header = runner.execute(header.id, on_progress=live.on_progress, cancel=live.cancel)
    except LogTriageError as exc:
        live.failure, live.failure_kind = exc.user_message(), components.kind_of(exc)
    except Exception as exc:
        log.exception("eval run failed")
        live.failure = f"{type(exc).__name__}: {exc}"
    finally:
        live.finished = time.perf_counter()


def start_eval(request: EvalRequest) -> LiveEval:
    """Start a run in a background thread and remember it in the session."""
    previous = current_eval()
    if previous is not None and previous.active:
        previous.cancel.set()
    live = LiveEval(request=request)
    st.session_state[STATE_KEY] = live
    threading.Thread(target=_work, args=(live,), name="eval-run", daemon=True).start()
    return live


def current_eval() -> LiveEval | None:
    """The session's latest dashboard run."""
    return st.session_state.get(STATE_KEY)


def progress_panel() -> None:
    """The running run's progress bar and Cancel button, refreshed on their own while it runs."""
    live = current_eval()
    if live is None:
        return
    if live.active:
        st.fragment(_panel, run_every=POLL_S)()
        return
    live.announced = True
    if live.failure is not None:
        components.error_box(live.failure, live.failure_kind)
    elif live.header is not None:
        outcome = live.header.status
        message = f"Run {live.header.id[:8]} {outcome}: {live.header.label}"
        if outcome == "completed":
            st.success(components.escape_markdown(message), icon=":material/check_circle:")
        else:
            st.warning(components.escape_markdown(message), icon=":material/stop_circle:")


def _panel() -> None:
    live = current_eval()
    if live is None:
        return
    if not live.active:
        if not live.announced:
            live.announced = True
            st.rerun()
        return
    fraction = live.done / live.total if live.total else 0.0
    elapsed = time.perf_counter() - live.started
    run = f"run {live.run_id[:8]} · " if live.run_id else "starting · "
    st.progress(fraction, text=f"{run}{live.done} of {live.total or '?'} items · {elapsed:,.0f} s")
    st.button(
        "Cancel run",
        key=f"evals.cancel.{id(live)}",
        icon=":material/stop_circle:",
        on_click=live.cancel.set,
        disabled=live.cancel.is_set(),
    )


# --- tables ------------------------------------------------------------------------------------------------


def format_latency(ms: float | None) -> str:
    """Milliseconds for people, keeping sub-10 ms figures (the baseline's) readable."""
    return f"{ms:.2f} ms" if ms is not None and ms < 10 else components.format_ms(ms)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def runs_frame(headers: Sequence[RunHeader]) -> pd.DataFrame:
    """One row per run: fingerprint, status and headline metrics (percent)."""
    rows = []
    for header in headers:
        summary = header.summary
        rows.append(
            {
                "run": header.id[:8],
                "created": header.created_at,
                "status": [header.status],
                "model": header.model,
                "quantization": header.quantization,
                "prompt": header.prompt_ref,
                "golden": header.golden_version,
                "slice": ", ".join(f"{k}={v}" for k, v in header.slice.items()) or "all",
                "items": len(header.item_ids),
                "accuracy %": _pct(summary.accuracy) if summary else None,
                "macro-F1 %": _pct(summary.macro_f1) if summary else None,
                "invalid %": _pct(summary.invalid_output_rate) if summary else None,
                "p50 ms": summary.latency.total_ms.get("0.5") if summary else None,
                "p95 ms": summary.latency.total_ms.get("0.95") if summary else None,
                "server": header.fingerprint.server_build,
                "git": header.fingerprint.git_revision[:10],
            }
        )
    return pd.DataFrame(rows)


def runs_table(headers: Sequence[RunHeader], *, key: str) -> RunHeader | None:
    """The runs as a table; the clicked row's run."""
    event = st.dataframe(
        runs_frame(headers),
        key=key,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "created": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm"),
            "status": st.column_config.MultiselectColumn(
                "status", options=list(STATUS_COLORS), color=list(STATUS_COLORS.values()), width="small"
            ),
            "p50 ms": st.column_config.NumberColumn("p50", format="%.0f ms"),
            "p95 ms": st.column_config.NumberColumn("p95", format="%.0f ms"),
        },
    )
    rows = event.selection.rows if event is not None else []
    return headers[rows[0]] if rows else None


def per_class_frame(metrics: RunMetrics) -> pd.DataFrame:
    """Precision, recall, F1 (percent), support and predicted count per class."""
    return pd.DataFrame(
        [
            {
                "class": row.label,
                "precision %": _pct(row.precision),
                "recall %": _pct(row.recall),
                "F1 %": _pct(row.f1),
                "support": row.support,
                "predicted": row.predicted,
            }
            for row in metrics.per_class
        ]
    )


def items_frame(items: Sequence[ItemResult]) -> pd.DataFrame:
    """One row per item: ids, expected, predicted, outcome, latency and error."""
    return pd.DataFrame(
        [
            {
                "example": item.example_id,
                "expected": item.expected,
                "predicted": item.predicted_label,
                "outcome": item.outcome,
                "total ms": item.total_ms,
                "cached": item.cached,
                "error": item.error or "",
            }
            for item in items
        ],
        columns=["example", "expected", "predicted", "outcome", "total ms", "cached", "error"],
    )


def headline_frame(result: Comparison) -> pd.DataFrame:
    """Metric rows by run columns, each 'value [low, high]' where an interval exists."""

    def interval(estimate: object) -> str:
        value, low, high = (getattr(estimate, name) * 100 for name in ("value", "low", "high"))
        return f"{value:.1f} [{low:.1f}, {high:.1f}]"

    rows: dict[str, dict[str, str]] = {}
    for run in result.runs:
        column = f"{run.letter}: {run.run_id[:8]}"
        metrics = run.metrics
        values = {
            "run": run.label,
            "accuracy % [95% CI]": interval(run.accuracy),
            "macro-F1 % [95% CI]": interval(run.macro_f1),
            "micro-F1 %": f"{metrics.micro_f1 * 100:.1f}",
            "invalid output %": f"{metrics.invalid_output_rate * 100:.1f}",
            "timeouts/errors %": f"{metrics.error_rate * 100:.1f}",
            "evidence recall %": f"{metrics.evidence_recall * 100:.1f}",
            "p50 latency": format_latency(metrics.latency.total_ms.get("0.5")),
            "p95 latency": format_latency(metrics.latency.total_ms.get("0.95")),
            "items": str(metrics.items),
        }
        for name, value in values.items():
            rows.setdefault(name, {})[column] = value
    return pd.DataFrame.from_dict(rows, orient="index")


def pairs_frame(result: Comparison) -> pd.DataFrame:
    """Each run against A: deltas (points) with intervals, McNemar and the verdict."""

    def delta(estimate: object) -> str:
        value, low, high = (getattr(estimate, name) * 100 for name in ("value", "low", "high"))
        return f"{value:+.1f} [{low:+.1f}, {high:+.1f}]"

    return pd.DataFrame(
        [
            {
                "pair": f"{pair.b} vs {pair.a}",
                "Δ accuracy [95% CI]": delta(pair.accuracy_delta),
                "Δ macro-F1 [95% CI]": delta(pair.macro_f1_delta),
                "A right, B wrong": pair.mcnemar.a_only,
                "A wrong, B right": pair.mcnemar.b_only,
                "test": pair.mcnemar.method,
                "p-value": pair.mcnemar.p_value,
                "verdict": pair.verdict,
            }
            for pair in result.pairs
        ]
    )


def outcomes_frame(rows: Sequence[ExampleOutcome]) -> pd.DataFrame:
    """One row per shared example: expected, both predictions and its case."""
    return pd.DataFrame(
        [row.model_dump() for row in rows],
        columns=[
            "example_id",
            "expected",
            "a_predicted",
            "b_predicted",
            "a_outcome",
            "b_outcome",
            "category",
        ],
    )


def logs_frame(example: GoldenExample) -> pd.DataFrame:
    """An example's logs: index (as evidence cites it), time, pod, line, and whether it is labeled evidence."""
    evidence = set(example.label.evidence)
    return pd.DataFrame(
        [
            {
                "index": index,
                "evidence": index in evidence,
                "time": format_rfc3339_ns(log.ts_ns)[:23] + "Z",
                "pod": log.labels.get("pod", ""),
                "line": log.line,
            }
            for index, log in enumerate(example.logs)
        ]
    )


# --- charts ------------------------------------------------------------------------------------------------


def trimmed_confusion(matrix: ConfusionMatrix) -> tuple[list[str], list[str], list[list[int]]]:
    """The matrix without rows and columns that are all zero."""
    rows = [i for i, counts in enumerate(matrix.counts) if any(counts)]
    columns = [j for j in range(len(matrix.columns)) if any(matrix.counts[i][j] for i in rows)]
    return (
        [matrix.rows[i] for i in rows],
        [matrix.columns[j] for j in columns],
        [[matrix.counts[i][j] for j in columns] for i in rows],
    )


def confusion_figure(matrix: ConfusionMatrix, *, height: int = 420) -> go.Figure:
    """The confusion matrix as a heatmap: expected down, predicted across, counts in the cells."""
    rows, columns, counts = trimmed_confusion(matrix)
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=columns,
            y=rows,
            colorscale="Blues",
            text=counts,
            texttemplate="%{text}",
            hovertemplate="expected %{y}<br>predicted %{x}<br>%{z} items<extra></extra>",
            showscale=False,
        )
    )
    fig.update_layout(
        height=height,
        margin={"l": 0, "r": 0, "t": 8, "b": 0},
        xaxis={"title": "predicted", "side": "top", "tickangle": -35},
        yaxis={"title": "expected", "autorange": "reversed"},
    )
    return fig


def latency_figure(runs: Sequence[tuple[str, Sequence[ItemResult]]]) -> go.Figure:
    """Distribution of time per answered item, one box per run."""
    fig = go.Figure()
    for name, items in runs:
        values = [
            i.total_ms
            for i in items
            if i.total_ms is not None and i.outcome not in ("timeout", "server_error")
        ]
        fig.add_box(x=values, name=name, boxpoints="outliers", orientation="h")
    fig.update_layout(
        height=120 + 60 * len(runs),
        margin={"l": 0, "r": 0, "t": 8, "b": 0},
        xaxis={"title": "ms per item", "rangemode": "tozero"},
        showlegend=False,
    )
    return fig


def per_class_f1_figure(result: Comparison) -> go.Figure:
    """F1 per class, one bar per run."""
    fig = go.Figure()
    for run in result.runs:
        f1 = {row.label: row.f1 for row in run.metrics.per_class}
        labels = [
            label
            for label in ROOT_CAUSES
            if any(label in {r.label for r in c.metrics.per_class} for c in result.runs)
        ]
        fig.add_bar(x=labels, y=[f1.get(label, 0.0) for label in labels], name=f"{run.letter}: {run.label}")
    fig.update_layout(
        barmode="group",
        height=360,
        margin={"l": 0, "r": 0, "t": 8, "b": 0},
        yaxis={"title": "F1", "range": [0, 1]},
        xaxis={"tickangle": -35},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    return fig


def tradeoff_figure(columns: Sequence[RunColumn]) -> go.Figure:
    """Accuracy (with its interval) against median latency, one point per run: the quantization trade-off."""
    xs = [run.metrics.latency.total_ms.get("0.5", 0.0) for run in columns]
    ys = [run.accuracy.value for run in columns]
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers+text",
            text=[run.letter for run in columns],
            customdata=[run.label for run in columns],
            textposition="middle right",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [run.accuracy.high - run.accuracy.value for run in columns],
                "arrayminus": [run.accuracy.value - run.accuracy.low for run in columns],
            },
            marker={"size": 12},
            hovertemplate="%{text}: %{customdata}<br>p50 %{x:,.0f} ms<br>accuracy %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        height=380,
        margin={"l": 0, "r": 0, "t": 24, "b": 0},
        xaxis={"title": "median ms per item", "rangemode": "tozero"},
        yaxis={"title": "accuracy", "range": [0, 1.05], "tickformat": ".0%"},
    )
    return fig


def chart(fig: go.Figure, *, key: str) -> None:
    """A plotly chart without the plotly logo."""
    st.plotly_chart(fig, key=key, config={"displaylogo": False})


# --- showing an example --------------------------------------------------------------------------------------


def example_detail(
    example: GoldenExample | None, outputs: Sequence[tuple[str, ItemResult]], *, key: str
) -> None:
    """An example's logs and each run's output, all as text."""
    if example is None:
        st.info("This example is no longer in the golden set.", icon=":material/help:")
    else:
        if any(item.content_hash and item.content_hash != example.content_hash() for _, item in outputs):
            st.warning("The golden example changed since this run; these are its current logs.")
        st.caption("Logs (evidence = labeled as proving the cause)")
        st.dataframe(
            logs_frame(example),
            key=f"{key}.logs",
            hide_index=True,
            column_config={
                "index": st.column_config.NumberColumn("#", width="small"),
                "evidence": st.column_config.CheckboxColumn("evidence", width="small"),
                "line": st.column_config.TextColumn("line", width="large"),
            },
        )
    columns = st.columns(len(outputs)) if outputs else []
    for column, (name, item) in zip(columns, outputs, strict=True):
        with column:
            st.caption(
                components.escape_markdown(
                    f"{name}: expected {item.expected}, got {item.predicted_label} ({item.outcome})"
                )
            )
            if item.error:
                st.text(item.error)
            st.code(item.raw_output or "(no output)", language="json", wrap_lines=True)
            if item.cited_evidence:
                st.text(f"cited log lines (#): {', '.join(map(str, item.cited_evidence))}")
