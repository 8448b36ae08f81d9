"""The Evals and Compare pages' access to the library, their background run, and the widgets they share.

Pages call these functions (and the pure tables and charts in ``eval_frames`` and ``eval_charts``) and
nothing below them, so a page test replaces them. Reads of finished runs are cached by ``app.ui.cache``
(keyed by the run's state, so a run that changes is read again); running runs are read fresh. Untrusted
text (log lines, model output, error messages, example ids) is shown with ``st.text``, ``st.code`` or
``st.dataframe``, never as Markdown. The running eval lives in ``st.session_state[STATE_KEY]``, which
only this module reads or writes; its thread never calls Streamlit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
import streamlit as st

from app.errors import InputError
from app.evals.compare import Claim, Comparison, ExampleOutcome, aligned, example_outcomes, shared_keys
from app.evals.metrics import ItemResult
from app.evals.runner import (
    BASELINE_MODEL_NAME,
    EvalRequest,
    GoldenSlice,
    RunHeader,
    get_run,
    list_runs,
    load_items,
    parse_slice,
)
from app.golden.schema import GoldenExample
from app.ui import cache, components
from app.ui import eval_frames as frames
from app.ui.jobs import BackgroundJob, JobFailure, Report, start_job

log = logging.getLogger(__name__)

STATE_KEY = "evals.live_run"
POLL_S = 0.5
WATCH_S = 2.0
"""How often the page looks for progress of runs started elsewhere (the CLI, a CronJob, another tab)."""
STATUS_COLORS = {"completed": "#10b981", "running": "#f59e0b", "cancelled": "#94a3b8", "failed": "#ef4444"}
EXAMPLE_PARAM = "example"
"""The query parameter with which the Triage page (the app's root) opens a golden example's window."""
CLAIM_BOXES = {
    "better": (st.success, ":material/trending_up:"),
    "worse": (st.error, ":material/trending_down:"),
    "no difference": (st.info, ":material/balance:"),
}


# --- reads ---------------------------------------------------------------------------------------------------


def eval_runs(limit: int = 200) -> list[RunHeader]:
    """The newest runs' headers, running ones included."""
    return list_runs(cache.get_services().engine, limit)


def run_header(run_id: str) -> RunHeader:
    """One run's header."""
    return get_run(cache.get_services().engine, run_id)


def _version(header: RunHeader) -> str:
    # A finished run's items change only when it is resumed, which changes its status and end time.
    return f"{header.status}:{header.ended_at}"


def run_items(header: RunHeader) -> list[ItemResult]:
    """A run's item results (a finished run's from the cache, a running one's fresh)."""
    if header.status == "running":
        return load_items(cache.get_services().engine, header.id)
    return cache.eval_items(header.id, _version(header))


def comparison(headers: Sequence[RunHeader]) -> Comparison:
    """The runs compared on their shared items (the first is A)."""
    return cache.eval_comparison(tuple(h.id for h in headers), tuple(_version(h) for h in headers))


def shared_items(headers: Sequence[RunHeader]) -> list[list[ItemResult]]:
    """Each run's answers on the items all of them share, in the same order (majority answers)."""
    runs = [cache.eval_run_items(h.id, _version(h)) for h in headers]
    keys = shared_keys(runs)
    return [aligned(run, keys) for run in runs]


def pair_outcomes(a: RunHeader, b: RunHeader) -> list[ExampleOutcome]:
    """Every example two runs share, with both predictions and its case."""
    return example_outcomes(cache.eval_run_items(a.id, _version(a)), cache.eval_run_items(b.id, _version(b)))


def answers_for(header: RunHeader, example_id: str) -> list[ItemResult]:
    """A run's results for one example, repeats in order."""
    return sorted((i for i in run_items(header) if i.example_id == example_id), key=lambda i: i.repeat)


def golden_examples() -> dict[str, GoldenExample]:
    """The golden set by example id."""
    return cache.golden_examples()


def model_names() -> list[str]:
    """The baseline, then the configured models."""
    return [BASELINE_MODEL_NAME, *(model.name for model in cache.models())]


def prompt_refs() -> list[str]:
    """Prompt versions, current files first (newest first among the rest)."""
    versions = cache.prompt_versions()
    current = [v.ref for v in versions if v.is_current]
    older = [v.ref for v in reversed(versions) if not v.is_current]
    return current + older


def eval_slice(
    *,
    classes: list[str],
    source: str | None,
    ids: list[str],
    limit: int | None,
    per_class: int | None,
    seed: int,
) -> GoldenSlice:
    """The slice the form describes; N per class (a stratified, seeded draw) when asked for."""
    fields: dict[str, Any] = {"classes": classes, "source": source, "ids": ids, "limit": limit}
    if per_class:
        # The runner draws the examples (``eval run --per-class N --seed S``); a runner without
        # stratified slices would quietly run every example, so say so instead.
        if "per_class" not in GoldenSlice.model_fields:
            raise InputError(
                "this version of the eval runner cannot pick N examples per class",
                hint="leave N per class at 0, or pick classes and First N",
            )
        fields.update(per_class=per_class, seed=seed)
    return parse_slice(None, **fields)


# --- the run in the background -------------------------------------------------------------------------------


@dataclass
class LiveEval:
    """A run started from the dashboard: its background job (shared machinery with live triage) and progress."""

    request: EvalRequest
    job: BackgroundJob
    done: int = 0
    total: int = 0
    run_id: str | None = None
    header: RunHeader | None = None
    listed: bool = False
    announced: bool = False

    @property
    def cancel(self) -> threading.Event:
        """The run's cancel switch."""
        return self.job.cancel

    @property
    def active(self) -> bool:
        """Whether the run is still going (what it reported is folded in first)."""
        for item in self.job.drain():
            if isinstance(item, _Update):
                self.run_id = item.run_id or self.run_id
                self.done = self.done if item.done is None else item.done
                self.total = self.total if item.total is None else item.total
                self.header = item.header or self.header
        return not self.job.done

    @property
    def failure(self) -> JobFailure | None:
        """How the run failed, when it did."""
        return self.job.failure


@dataclass(frozen=True)
class _Update:
    """What the eval's thread reports: the run once recorded, its progress, and the finished header."""

    run_id: str | None = None
    done: int | None = None
    total: int | None = None
    header: RunHeader | None = None


def start_eval(request: EvalRequest) -> LiveEval:
    """Start a run in a background job and remember it in the session (cancelling the one before)."""

    def work(cancel: threading.Event, report: Report) -> None:
        runner = cache.get_services().eval_runner
        header = runner.start(request)
        report(_Update(run_id=header.id, total=len(header.item_ids)))
        finished = runner.execute(
            header.id, on_progress=lambda done, total: report(_Update(done=done, total=total)), cancel=cancel
        )
        report(_Update(header=finished))

    live = LiveEval(request=request, job=BackgroundJob(work, name="eval-run"))
    start_job(STATE_KEY, live)
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
        components.error_box(live.failure.message, live.failure.kind)
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
            # Finished during a fragment rerun: the whole page redraws with the result and the new metrics.
            live.announced = True
            st.rerun()
        return
    if live.run_id is not None and not live.listed:
        # The run is recorded now: the whole page redraws once, so the runs list shows it as running.
        live.listed = True
        st.rerun()
    fraction = live.done / live.total if live.total else 0.0
    elapsed = live.job.elapsed_s()
    run = f"run {live.run_id[:8]} · " if live.run_id else "starting · "
    st.progress(
        fraction,
        text=f"{run}{live.done} of {live.total or '?'} items · {frames.format_latency(elapsed * 1000)}",
    )
    st.button(
        "Cancel run",
        key=f"evals.cancel.{id(live)}",
        icon=":material/stop_circle:",
        on_click=live.cancel.set,
        disabled=live.cancel.is_set(),
    )


def is_starting() -> bool:
    """Whether this session started a run that is not recorded yet."""
    live = current_eval()
    return live is not None and live.active and live.run_id is None


def running_panel(headers: Sequence[RunHeader]) -> None:
    """Progress of the runs that are running (started here or elsewhere: the CLI, a CronJob, another tab),
    refreshed on its own; the whole page redraws when a run starts, ends or changes status."""
    states: dict[str, str] = {header.id: header.status for header in headers}
    if "running" in states.values():
        st.fragment(_running, run_every=WATCH_S)(states)


def _running(states: dict[str, str]) -> None:
    fresh = eval_runs()
    if {header.id: header.status for header in fresh} != states:
        st.rerun()
    live = current_eval()
    now = time.time()
    for header in fresh:
        if header.status != "running" or (live is not None and live.run_id == header.id and live.active):
            continue  # this session's own run has its progress bar in the form above
        done, total = len(run_items(header)), len(header.item_ids)
        since = header.started_at.timestamp() if header.started_at else now
        st.progress(
            min(done / total, 1.0) if total else 0.0,
            text=components.escape_markdown(
                f"run {header.id[:8]} · {header.label} · {done:,} results of {total:,} items · running for "
                f"{frames.format_latency(max(now - since, 0.0) * 1000)}"
            ),
        )


# --- widgets -------------------------------------------------------------------------------------------------


def runs_table(headers: Sequence[RunHeader], *, key: str) -> RunHeader | None:
    """The runs as a table (headline metrics on the left); the clicked row's run."""
    event = st.dataframe(
        frames.runs_frame(headers),
        key=key,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "run": st.column_config.TextColumn("run", width=80, pinned=True),
            "status": st.column_config.MultiselectColumn(
                "status", options=list(STATUS_COLORS), color=list(STATUS_COLORS.values()), width=100
            ),
            "model": st.column_config.TextColumn("model", width=130),
            "prompt": st.column_config.TextColumn("prompt", width=170),
            "accuracy %": st.column_config.NumberColumn("accuracy %", format="%.1f", width=90),
            "macro-F1 %": st.column_config.NumberColumn("macro-F1 %", format="%.1f", width=95),
            "items": st.column_config.NumberColumn("items", width=70),
            "invalid %": st.column_config.NumberColumn("invalid %", format="%.1f", width=80),
            "p50": st.column_config.TextColumn("p50", width=75),
            "p95": st.column_config.TextColumn("p95", width=75),
            "created": st.column_config.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )
    rows = event.selection.rows if event is not None else []
    return headers[rows[0]] if rows else None


def chart(fig: go.Figure, *, key: str) -> None:
    """A plotly chart without the plotly logo."""
    st.plotly_chart(fig, key=key, config={"displaylogo": False})


def triage_url(example_id: str) -> str:
    """The Triage page (the app's root, under Streamlit's base URL path) on a golden example's window."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    root = f"/{base}/" if base else "/"
    return f"{root}?{urlencode({EXAMPLE_PARAM: example_id})}"


def claim_box(pair_name: str, claim: Claim) -> None:
    """One claim in a box coloured by its direction: better green, worse red, no difference neutral."""
    box, icon = CLAIM_BOXES[claim.direction]
    box(components.escape_markdown(f"{pair_name}: {claim.text}"), icon=icon)


# --- showing an example --------------------------------------------------------------------------------------


def example_detail(
    example: GoldenExample | None,
    outputs: Sequence[tuple[str, ItemResult]],
    *,
    key: str,
    example_id: str,
    repeats: dict[str, list[ItemResult]] | None = None,
) -> None:
    """An example's logs with the labeled and cited lines marked and in view, each run's output, and a
    link to the same window in Triage."""
    st.link_button(
        "Open this window in Triage",
        triage_url(example_id),
        icon=":material/troubleshoot:",
        help="The Triage page loads this golden window, so you can run a model on it yourself.",
    )
    columns = st.columns(len(outputs)) if outputs else []
    for column, (name, item) in zip(columns, outputs, strict=True):
        with column:
            _output(name, item, (repeats or {}).get(name, []), key=f"{key}.{name}")
    if example is None:
        st.info("This example is no longer in the golden set.", icon=":material/help:")
        return
    if any(item.content_hash and item.content_hash != example.content_hash() for _, item in outputs):
        st.warning("The golden example changed since this run; these are its current logs.")
    marked = bool(example.label.evidence) or any(item.cited_evidence for _, item in outputs)
    view = st.segmented_control(
        "Log lines",
        ["Around the evidence", "All lines"],
        default="Around the evidence" if marked else "All lines",
        required=True,
        key=f"{key}.view",
        disabled=not marked,
    )
    shown = frames.logs_frame(example, outputs, focus=view == "Around the evidence")
    st.caption(
        f"{len(shown):,} of {len(example.logs):,} lines · # = the entry's position in the window (as labels "
        "cite it) · labeled = evidence the labeler marked · ★ = a line behind the model's citation"
    )
    st.dataframe(
        shown.style.apply(frames.highlight_cited, axis=None),
        key=f"{key}.logs",
        hide_index=True,
        column_config={
            "#": st.column_config.NumberColumn("#", width=50, pinned=True),
            "labeled": st.column_config.CheckboxColumn("labeled", width=70, pinned=True),
            **{
                name: st.column_config.TextColumn(name, width=80, pinned=True)
                for name in shown.columns
                if str(name).startswith("cited by ")
            },
            "line": st.column_config.TextColumn("line", width="large"),
        },
    )


def _output(name: str, item: ItemResult, repeats: Sequence[ItemResult], *, key: str) -> None:
    """One run's answer: what came back, the lines it cited (its own numbers) and its repeats."""
    st.caption(
        components.escape_markdown(
            f"{name}: expected {item.expected}, got {item.predicted_label} ({item.outcome})"
        )
    )
    if item.error:
        st.text(item.error)
    if item.leaked:
        st.text(f"copies from the prompt's worked examples: {', '.join(item.copied_example or [])}")
    numbers = frames.model_numbers(item)
    if numbers:
        st.text(f"{name} cited lines {', '.join(map(str, numbers))}")
    st.code(item.raw_output or "(no output)", language="json", wrap_lines=True)
    if len(repeats) > 1:
        st.caption(f"{len(repeats)} repeats: the majority answer is shown")
        st.dataframe(frames.items_frame(repeats), key=f"{key}.repeats", hide_index=True)
